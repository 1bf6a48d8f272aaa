//! A TCP proxy the test controls, to take the database away from a running
//! server and give it back: either refused outright, or frozen (connections
//! stay open and nothing flows, as in a network partition).

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    Down,
    Frozen,
}

pub struct TcpProxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watcher) = watch::channel(Mode::Up);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watcher = watcher.clone();
                let now = *watcher.borrow();
                match now {
                    Mode::Down => drop(inbound),
                    // Accepted, then silence until the partition ends.
                    Mode::Frozen => {
                        tokio::spawn(async move {
                            let _ = watcher.wait_for(|m| *m != Mode::Frozen).await;
                            drop(inbound);
                        });
                    }
                    Mode::Up => {
                        tokio::spawn(async move {
                            let Ok(mut outbound) = TcpStream::connect(target).await else {
                                return;
                            };
                            tokio::select! {
                                _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = watcher.wait_for(|m| *m != Mode::Up) => {}
                            }
                            // Frozen: hold both ends, silent, until it ends.
                            let _ = watcher.wait_for(|m| *m != Mode::Frozen).await;
                        });
                    }
                }
            }
        });
        Self { port, mode }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn go_down(&self) {
        self.mode.send_replace(Mode::Down);
    }

    /// Keeps every connection open but lets nothing through, and accepts
    /// new ones into the same silence; when it ends, they are all cut.
    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Frozen);
    }

    pub fn come_back(&self) {
        self.mode.send_replace(Mode::Up);
    }
}

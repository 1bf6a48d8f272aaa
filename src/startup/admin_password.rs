//! The file a generated admin password goes to when there is no terminal to
//! show it on. The file is made for the password: created anew, readable by
//! its owner alone (0600). A name that is already taken, by a file someone
//! else may read or by a link that may lead anywhere, stops the start
//! before the admin exists, so the password is never written through a
//! link, into a file others can read, or anywhere else.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// The file, created and still empty, waiting for the password.
pub(super) struct PasswordFile {
    file: File,
    path: PathBuf,
}

impl PasswordFile {
    /// Creates `path` for the password. `create_new` opens with
    /// `O_CREAT | O_EXCL`, which fails on any name that exists, a symbolic
    /// link included (even one that leads nowhere): no link is followed and
    /// no existing file is reused, whatever its mode.
    pub(super) fn create(path: &Path) -> Result<Self, String> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(file) => Ok(Self {
                file,
                path: path.to_owned(),
            }),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(format!(
                "{} already exists (a file or a link): the generated admin password is \
                 written only to a new file that its owner alone can read, never into one \
                 that was there before. Move it away and start again, or set \
                 bootstrap.password_file to another path, or bootstrap.admin_password",
                path.display()
            )),
            Err(e) => Err(format!(
                "cannot create {} for the generated admin password: {e}. Set \
                 bootstrap.password_file to a path the server may create, or \
                 bootstrap.admin_password",
                path.display()
            )),
        }
    }

    /// Writes the password and makes it durable.
    pub(super) fn write(mut self, password: &SecretString) -> Result<(), String> {
        writeln!(self.file, "{}", password.expose_secret())
            .and_then(|()| self.file.sync_all())
            .map_err(|e| {
                format!(
                    "cannot write the admin password to {}: {e}",
                    self.path.display()
                )
            })
    }

    /// Removes the file, which no password came to fill (another replica
    /// created the admin first).
    pub(super) fn discard(self) {
        drop(self.file);
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(file = %self.path.display(), error = %e, "cannot remove the unused admin password file");
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

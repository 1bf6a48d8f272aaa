//! Registered clients, cached after first use so a client-credentials
//! grant costs no database round trip. A change or deletion drops the entry
//! here at once, and on the other replicas by notification.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::Client;

#[derive(Default)]
pub struct ClientCache {
    clients: RwLock<HashMap<String, Arc<Client>>>,
}

impl ClientCache {
    pub fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub fn put(&self, client: Arc<Client>) {
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client.id.as_str().to_owned(), client);
    }

    pub fn forget(&self, id: &str) {
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    pub fn clear(&self) {
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

//! The etcd snapshot trailer: `etcdctl snapshot save` appends the raw SHA-256 of everything
//! before it, and etcd detects it by `size % 512 == 32`.

pub use crate::bbolt::view::TRAILER_LEN;
use sha2::{Digest, Sha256};

/// Whether a file of this length carries a trailer.
pub fn present(len: usize) -> bool {
    len % 512 == TRAILER_LEN
}

/// The result of verifying a trailer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrailerCheck {
    /// The 32 bytes stored at the end, as hex.
    pub stored: String,
    /// SHA-256 of the bytes before them, as hex.
    pub computed: String,
}

impl TrailerCheck {
    /// Whether the stored hash matches.
    pub fn ok(&self) -> bool {
        self.stored == self.computed
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Computes and compares the trailer; `None` when the file has none.
pub fn verify(data: &[u8]) -> Option<TrailerCheck> {
    if !present(data.len()) {
        return None;
    }
    let (body, stored) = data.split_at(data.len() - TRAILER_LEN);
    let mut h = Sha256::new();
    // Large chunks keep the hasher on its fast path.
    for c in body.chunks(1 << 20) {
        h.update(c);
    }
    Some(TrailerCheck { stored: hex(stored), computed: hex(&h.finalize()) })
}

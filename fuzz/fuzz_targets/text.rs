//! Any bytes as a stored value judged for a plaintext Secret, fast enough for millions of runs
//! (the `read` target reaches the same code once per database, a few hundred runs a minute). The
//! first byte picks the key the value is stored under (an application's own key, a ConfigMap's,
//! a Secret's, a custom resource's); the rest is the value: YAML and JSON text go through the
//! line rules and the YAML parser layer (with its bounds on size, nesting, aliases and budget),
//! protobuf envelopes and CBOR through theirs. The same bytes are also judged as a key, and
//! decoded as an object (redacted). Nothing may panic, hang or allocate without bound:
//! `fuzz/seed.sh SECONDS text` runs it with a 2 s timeout and 512 MB of memory per input.
#![no_main]

use boltscope::k8s::object::{decode, DecodeOptions};
use boltscope::k8s::secret;
use libfuzzer_sys::fuzz_target;

/// The keys a value may be stored under.
const KEYS: [&[u8]; 4] =
    [b"/app/config", b"/registry/configmaps/ns/c", b"/registry/secrets/ns/s", b"/registry/example.com/widgets/ns/w"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, value)) = data.split_first() else { return };
    let key = KEYS[usize::from(pick) % KEYS.len()];
    let _ = secret::holds_plaintext(key, value);
    let _ = secret::key_holds_secret(value);
    let _ = decode(key, value, &DecodeOptions { show_secrets: false });
});

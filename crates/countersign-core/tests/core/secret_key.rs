//! The approver's private key is a type that does not leak: no `Serialize`, a redacted
//! `Debug`, zeroized on drop (STYLE.md, "Secrets are a type").

use countersign_core::ApproverKey;
use zeroize::Zeroizing;

/// `IS` is `true` exactly when `T: serde::Serialize`: the inherent constant applies only under
/// that bound, otherwise the trait's default is found (the `impls` crate's technique).
struct Probe<T>(std::marker::PhantomData<T>);
trait NotSerialize {
    const IS: bool = false;
}
impl<T> NotSerialize for Probe<T> {}
impl<T: serde::Serialize> Probe<T> {
    const IS: bool = true;
}

// Checked when this file compiles (a key type that gained `Serialize` would not build).
#[test]
fn the_approver_key_cannot_be_serialized() {
    const {
        assert!(
            !Probe::<ApproverKey>::IS,
            "ApproverKey must not implement Serialize"
        );
        assert!(
            Probe::<countersign_core::TrustedKey>::IS,
            "the probe does detect Serialize (the public trust entry has it)"
        );
    }
}

#[test]
fn the_approver_keys_debug_output_names_the_key_id_and_hides_the_secret() {
    let key = ApproverKey::from_seed(&Zeroizing::new([0x5a; 32]));
    let shown = format!("{key:?} {key:#?}");
    assert!(shown.contains(&key.key_id()), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    let seed = key.seed();
    for needle in [
        hex::encode(seed.as_ref()),
        hex::encode(&seed[..8]),
        format!("{:?}", &seed[..8]),
        "5a5a5a".to_owned(),
        "90, 90, 90".to_owned(),
    ] {
        assert!(
            !shown.contains(&needle),
            "Debug shows part of the secret ({needle}): {shown}"
        );
    }
}

// Checked when this file compiles: a key type that stopped zeroizing would not build.
#[test]
fn the_approver_key_is_zeroized_on_drop() {
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    // The secret lives in ed25519-dalek's SigningKey, whose Drop zeroizes it with the
    // workspace's `zeroize` feature; ApproverKey holds nothing else.
    zeroized_on_drop::<ed25519_dalek::SigningKey>();
    zeroized_on_drop::<ApproverKey>();
    // The seed handed to a keychain or key file is wrapped too.
    zeroized_on_drop::<Zeroizing<[u8; 32]>>();
    let _: fn(&ApproverKey) -> Zeroizing<[u8; 32]> = ApproverKey::seed;
}

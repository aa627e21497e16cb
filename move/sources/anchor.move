/// Anchors of fieldproof sinks, and each operator's registry of device keys.
///
/// An anchor is the RFC 6962 Merkle root over the hashes of the signed batch headers a sink
/// accepted during one interval. Anyone holding a record proof can look the root up here to learn
/// that it existed, unchanged, at the time it was anchored.
///
/// The device key registry says which Ed25519 key signs a device's batches, and for which creation
/// times. Both live under the calling account and only that account's signer changes them: an
/// operator publishes this module at its own address and anchors and registers from that same
/// account, so a verifier who knows that one address can ask `anchored_at` about a proof's anchor
/// root and `key_valid_at` about its batch key, and believe nothing the proof says about either.
module fieldproof::anchor {
    use std::bcs;
    use std::error;
    use std::option::{Self, Option};
    use std::signer;
    use std::string::{Self, String};
    use std::vector;
    use aptos_framework::event;
    use aptos_framework::timestamp;
    use aptos_std::ed25519;
    use aptos_std::table::{Self, Table};

    /// The root is not 32 bytes (a SHA-256 hash).
    const E_ROOT_LENGTH: u64 = 1;
    /// This account already anchored this root.
    const E_ALREADY_ANCHORED: u64 = 2;
    /// An anchor covers at least one batch.
    const E_NO_BATCHES: u64 = 3;
    /// first_ts is after last_ts.
    const E_TIME_ORDER: u64 = 4;
    /// The key is not a valid Ed25519 public key: 32 bytes encoding a curve point not of small order.
    const E_INVALID_KEY: u64 = 5;
    /// The device name is not 1 to 128 letters, digits, dots, dashes, colons or underscores,
    /// starting with a letter or digit (the names batches carry).
    const E_DEVICE_NAME: u64 = 6;
    /// The device already has a key in this registry: rotate, replace or revoke it instead.
    const E_DEVICE_EXISTS: u64 = 7;
    /// This account's registry has no such device.
    const E_DEVICE_NOT_FOUND: u64 = 8;
    /// The device never had this key.
    const E_KEY_NOT_FOUND: u64 = 9;
    /// The device had this key before: a key serves one stretch of a device's life.
    const E_KEY_REUSED: u64 = 10;
    /// A new key must count from later than the key it follows.
    const E_ROTATION_TIME: u64 = 11;
    /// The endorsement is not the current key's Ed25519 signature over the rotation message.
    const E_BAD_ENDORSEMENT: u64 = 12;
    /// The current key is revoked and cannot endorse a successor: replace it instead.
    const E_KEY_REVOKED: u64 = 13;
    /// The key is already revoked.
    const E_ALREADY_REVOKED: u64 = 14;
    /// The device has had as many keys as one device may have.
    const E_TOO_MANY_KEYS: u64 = 15;
    /// u64::MAX means "no end" in the registry and cannot be given as a time.
    const E_TIME_NO_END: u64 = 16;

    /// valid_until_ms / revoked_from_ms of a key that was not rotated out / not revoked.
    const NO_END: u64 = 18446744073709551615;
    const MAX_KEYS_PER_DEVICE: u64 = 64;
    const MAX_DEVICE_NAME_BYTES: u64 = 128;
    /// The first bytes of every rotation message, so that the signature cannot mean anything else.
    const ROTATION_DOMAIN: vector<u8> = b"FIELDPROOF::DeviceKeyRotation";

    /// What is known about one anchored root.
    struct Anchor has store, copy, drop {
        /// the chain's clock when the root was recorded, microseconds since the Unix epoch
        anchored_at_us: u64,
        /// how many batch headers the tree covers
        batch_count: u64,
        /// earliest and latest header creation time covered, milliseconds since the Unix epoch
        first_ts: u64,
        last_ts: u64,
        /// 0 for this account's first anchor, then 1, 2, ...
        index: u64,
    }

    /// The anchors of one account, from root to when it was anchored.
    struct Anchors has key {
        roots: Table<vector<u8>, Anchor>,
        count: u64,
    }

    /// One key a device has had, and the batch creation times it counts for: from valid_from_ms,
    /// up to (not including) valid_until_ms and revoked_from_ms. Times in milliseconds since the
    /// Unix epoch, as batch headers carry them.
    struct DeviceKey has store, copy, drop {
        /// the Ed25519 public key, 32 bytes
        key: vector<u8>,
        valid_from_ms: u64,
        /// when the next key took over; NO_END while this is the device's current key
        valid_until_ms: u64,
        /// NO_END unless revoked
        revoked_from_ms: u64,
        /// the chain's clock when the key was registered and when it was revoked (0 if it was not),
        /// microseconds since the Unix epoch
        registered_at_us: u64,
        revoked_at_us: u64,
        /// whether the previous key signed this key's rotation (false for a first key, and for a
        /// key that replaced a lost one)
        endorsed: bool,
    }

    /// The device key registry of one account: each device's keys, oldest first.
    struct DeviceKeys has key {
        devices: Table<String, vector<DeviceKey>>,
        device_count: u64,
    }

    #[event]
    /// Emitted once per recorded root, so that indexers can follow a sink's anchors.
    struct RootAnchored has drop, store {
        anchorer: address,
        root: vector<u8>,
        batch_count: u64,
        first_ts: u64,
        last_ts: u64,
        anchored_at_us: u64,
        index: u64,
    }

    #[event]
    /// Emitted when a device's first key is registered.
    struct DeviceKeyRegistered has drop, store {
        operator: address,
        device: String,
        key: vector<u8>,
        valid_from_ms: u64,
    }

    #[event]
    /// Emitted when a device's key is rotated (endorsed by the old key) or replaced (old key lost).
    struct DeviceKeyRotated has drop, store {
        operator: address,
        device: String,
        old_key: vector<u8>,
        new_key: vector<u8>,
        valid_from_ms: u64,
        endorsed: bool,
    }

    #[event]
    /// Emitted when a key is revoked for the batches created from revoked_from_ms on.
    struct DeviceKeyRevoked has drop, store {
        operator: address,
        device: String,
        key: vector<u8>,
        revoked_from_ms: u64,
    }

    /// Record one anchor root. Aborts when the root is malformed or was already recorded by this
    /// account, so a retried submission can never record a root twice.
    public entry fun record_root(
        anchorer: &signer,
        root: vector<u8>,
        batch_count: u64,
        first_ts: u64,
        last_ts: u64,
    ) acquires Anchors {
        assert!(vector::length(&root) == 32, error::invalid_argument(E_ROOT_LENGTH));
        assert!(batch_count > 0, error::invalid_argument(E_NO_BATCHES));
        assert!(first_ts <= last_ts, error::invalid_argument(E_TIME_ORDER));
        let addr = signer::address_of(anchorer);
        if (!exists<Anchors>(addr)) {
            move_to(anchorer, Anchors { roots: table::new(), count: 0 });
        };
        let anchors = borrow_global_mut<Anchors>(addr);
        assert!(!table::contains(&anchors.roots, root), error::already_exists(E_ALREADY_ANCHORED));
        let anchored_at_us = timestamp::now_microseconds();
        let index = anchors.count;
        table::add(&mut anchors.roots, root, Anchor { anchored_at_us, batch_count, first_ts, last_ts, index });
        anchors.count = index + 1;
        event::emit(RootAnchored { anchorer: addr, root, batch_count, first_ts, last_ts, anchored_at_us, index });
    }

    /// Register a device's first key, counting for batches created from valid_from_ms on, in the
    /// signer's own registry.
    public entry fun register_device_key(
        operator: &signer,
        device: String,
        key: vector<u8>,
        valid_from_ms: u64,
    ) acquires DeviceKeys {
        check_device_name(&device);
        check_key(&key);
        let addr = signer::address_of(operator);
        if (!exists<DeviceKeys>(addr)) {
            move_to(operator, DeviceKeys { devices: table::new(), device_count: 0 });
        };
        let registry = borrow_global_mut<DeviceKeys>(addr);
        assert!(!table::contains(&registry.devices, device), error::already_exists(E_DEVICE_EXISTS));
        let keys = vector::empty<DeviceKey>();
        vector::push_back(&mut keys, new_entry(key, valid_from_ms, false));
        table::add(&mut registry.devices, device, keys);
        registry.device_count = registry.device_count + 1;
        event::emit(DeviceKeyRegistered { operator: addr, device, key, valid_from_ms });
    }

    /// Rotate a device's key: `endorsement` is the current key's Ed25519 signature over
    /// rotation_message(operator, device, current key, new_key, valid_from_ms). The current key
    /// then counts up to valid_from_ms, the new one from it.
    public entry fun rotate_device_key(
        operator: &signer,
        device: String,
        new_key: vector<u8>,
        valid_from_ms: u64,
        endorsement: vector<u8>,
    ) acquires DeviceKeys {
        check_key(&new_key);
        let addr = signer::address_of(operator);
        let keys = keys_mut(addr, device);
        let n = vector::length(keys);
        let current = *vector::borrow(keys, n - 1);
        assert!(current.revoked_from_ms == NO_END, error::invalid_state(E_KEY_REVOKED));
        let message = rotation_message(addr, device, current.key, new_key, valid_from_ms);
        assert!(endorsement_holds(endorsement, current.key, message), error::permission_denied(E_BAD_ENDORSEMENT));
        push_successor(keys, new_key, valid_from_ms, true);
        event::emit(DeviceKeyRotated { operator: addr, device, old_key: current.key, new_key, valid_from_ms, endorsed: true });
    }

    /// Replace a device's key on the operator's word alone, for when the current key is lost (or
    /// revoked) and cannot endorse its successor. The event says the rotation was not endorsed.
    public entry fun replace_device_key(
        operator: &signer,
        device: String,
        new_key: vector<u8>,
        valid_from_ms: u64,
    ) acquires DeviceKeys {
        check_key(&new_key);
        let addr = signer::address_of(operator);
        let keys = keys_mut(addr, device);
        let n = vector::length(keys);
        let old_key = vector::borrow(keys, n - 1).key;
        push_successor(keys, new_key, valid_from_ms, false);
        event::emit(DeviceKeyRotated { operator: addr, device, old_key, new_key, valid_from_ms, endorsed: false });
    }

    /// Revoke one of a device's keys (the current one or an earlier one) for the batches created
    /// from revoked_from_ms on. The time may lie in the past: that is when a key is found to have
    /// been stolen.
    public entry fun revoke_device_key(
        operator: &signer,
        device: String,
        key: vector<u8>,
        revoked_from_ms: u64,
    ) acquires DeviceKeys {
        assert!(revoked_from_ms != NO_END, error::invalid_argument(E_TIME_NO_END));
        let addr = signer::address_of(operator);
        let keys = keys_mut(addr, device);
        let found = index_of(keys, &key);
        assert!(option::is_some(&found), error::not_found(E_KEY_NOT_FOUND));
        let entry = vector::borrow_mut(keys, option::extract(&mut found));
        assert!(entry.revoked_from_ms == NO_END, error::invalid_state(E_ALREADY_REVOKED));
        entry.revoked_from_ms = revoked_from_ms;
        entry.revoked_at_us = timestamp::now_microseconds();
        event::emit(DeviceKeyRevoked { operator: addr, device, key, revoked_from_ms });
    }

    #[view]
    /// When `anchorer` recorded `root`, in microseconds since the Unix epoch; 0 if it never did.
    public fun anchored_at(anchorer: address, root: vector<u8>): u64 acquires Anchors {
        if (!exists<Anchors>(anchorer)) return 0;
        let anchors = borrow_global<Anchors>(anchorer);
        if (!table::contains(&anchors.roots, root)) return 0;
        table::borrow(&anchors.roots, root).anchored_at_us
    }

    #[view]
    /// How many roots `anchorer` has recorded.
    public fun anchor_count(anchorer: address): u64 acquires Anchors {
        if (!exists<Anchors>(anchorer)) return 0;
        borrow_global<Anchors>(anchorer).count
    }

    #[view]
    /// Whether `operator` registered `key` for `device` and it counts for a batch created at
    /// `time_ms`: valid_from_ms <= time_ms < valid_until_ms, and time_ms < revoked_from_ms.
    public fun key_valid_at(operator: address, device: String, key: vector<u8>, time_ms: u64): bool acquires DeviceKeys {
        let keys = device_keys(operator, device);
        let found = index_of(&keys, &key);
        if (option::is_none(&found)) return false;
        let k = vector::borrow(&keys, option::extract(&mut found));
        k.valid_from_ms <= time_ms && time_ms < k.valid_until_ms && time_ms < k.revoked_from_ms
    }

    #[view]
    /// The keys `operator` registered for `device`, oldest first; empty when there are none.
    public fun device_keys(operator: address, device: String): vector<DeviceKey> acquires DeviceKeys {
        if (!exists<DeviceKeys>(operator)) return vector::empty();
        let registry = borrow_global<DeviceKeys>(operator);
        if (!table::contains(&registry.devices, device)) return vector::empty();
        *table::borrow(&registry.devices, device)
    }

    #[view]
    /// The bytes a device's current key signs to endorse its successor: "FIELDPROOF::DeviceKeyRotation",
    /// the operator's address (32 bytes), the device name (BCS: ULEB128 length, UTF-8), the old
    /// and the new key (32 bytes each) and valid_from_ms (8 bytes, little-endian).
    public fun rotation_message(operator: address, device: String, old_key: vector<u8>, new_key: vector<u8>, valid_from_ms: u64): vector<u8> {
        let message = ROTATION_DOMAIN;
        vector::append(&mut message, bcs::to_bytes(&operator));
        vector::append(&mut message, bcs::to_bytes(&device));
        vector::append(&mut message, old_key);
        vector::append(&mut message, new_key);
        vector::append(&mut message, bcs::to_bytes(&valid_from_ms));
        message
    }

    fun new_entry(key: vector<u8>, valid_from_ms: u64, endorsed: bool): DeviceKey {
        DeviceKey {
            key, valid_from_ms, valid_until_ms: NO_END, revoked_from_ms: NO_END,
            registered_at_us: timestamp::now_microseconds(), revoked_at_us: 0, endorsed,
        }
    }

    /// The keys of a device in the registry of `addr`, to change them.
    fun keys_mut(addr: address, device: String): &mut vector<DeviceKey> acquires DeviceKeys {
        assert!(exists<DeviceKeys>(addr), error::not_found(E_DEVICE_NOT_FOUND));
        let registry = borrow_global_mut<DeviceKeys>(addr);
        assert!(table::contains(&registry.devices, device), error::not_found(E_DEVICE_NOT_FOUND));
        table::borrow_mut(&mut registry.devices, device)
    }

    /// End the current key at valid_from_ms and make new_key the current one.
    fun push_successor(keys: &mut vector<DeviceKey>, new_key: vector<u8>, valid_from_ms: u64, endorsed: bool) {
        assert!(option::is_none(&index_of(keys, &new_key)), error::already_exists(E_KEY_REUSED));
        assert!(valid_from_ms != NO_END, error::invalid_argument(E_TIME_NO_END));
        let n = vector::length(keys);
        let current = vector::borrow_mut(keys, n - 1);
        assert!(valid_from_ms > current.valid_from_ms, error::invalid_argument(E_ROTATION_TIME));
        assert!(n < MAX_KEYS_PER_DEVICE, error::resource_exhausted(E_TOO_MANY_KEYS));
        current.valid_until_ms = valid_from_ms;
        vector::push_back(keys, new_entry(new_key, valid_from_ms, endorsed));
    }

    fun index_of(keys: &vector<DeviceKey>, key: &vector<u8>): Option<u64> {
        let i = 0;
        let n = vector::length(keys);
        while (i < n) {
            if (&vector::borrow(keys, i).key == key) return option::some(i);
            i = i + 1;
        };
        option::none()
    }

    fun check_key(key: &vector<u8>) {
        assert!(vector::length(key) == 32, error::invalid_argument(E_INVALID_KEY));
        assert!(option::is_some(&ed25519::new_validated_public_key_from_bytes(*key)), error::invalid_argument(E_INVALID_KEY));
    }

    fun check_device_name(device: &String) {
        let bytes = string::bytes(device);
        let n = vector::length(bytes);
        assert!(n >= 1 && n <= MAX_DEVICE_NAME_BYTES, error::invalid_argument(E_DEVICE_NAME));
        let i = 0;
        while (i < n) {
            let c = *vector::borrow(bytes, i);
            let alphanumeric = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
            // after the first character also . _ : -
            let punctuation = i > 0 && (c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2d);
            assert!(alphanumeric || punctuation, error::invalid_argument(E_DEVICE_NAME));
            i = i + 1;
        };
    }

    fun endorsement_holds(endorsement: vector<u8>, key: vector<u8>, message: vector<u8>): bool {
        if (vector::length(&endorsement) != 64) return false;
        let signature = ed25519::new_signature_from_bytes(endorsement);
        let public_key = ed25519::new_unvalidated_public_key_from_bytes(key);
        ed25519::signature_verify_strict(&signature, &public_key, message)
    }

    #[test_only]
    /// The events as the tests in move/tests/ expect them (their fields are private to this module).
    public fun registered_event(operator: address, device: String, key: vector<u8>, valid_from_ms: u64): DeviceKeyRegistered {
        DeviceKeyRegistered { operator, device, key, valid_from_ms }
    }

    #[test_only]
    public fun rotated_event(operator: address, device: String, old_key: vector<u8>, new_key: vector<u8>, valid_from_ms: u64, endorsed: bool): DeviceKeyRotated {
        DeviceKeyRotated { operator, device, old_key, new_key, valid_from_ms, endorsed }
    }

    #[test_only]
    public fun revoked_event(operator: address, device: String, key: vector<u8>, revoked_from_ms: u64): DeviceKeyRevoked {
        DeviceKeyRevoked { operator, device, key, revoked_from_ms }
    }

    #[test_only]
    /// key, valid_from_ms, valid_until_ms, revoked_from_ms, registered_at_us, revoked_at_us, endorsed
    public fun key_fields(k: &DeviceKey): (vector<u8>, u64, u64, u64, u64, u64, bool) {
        (k.key, k.valid_from_ms, k.valid_until_ms, k.revoked_from_ms, k.registered_at_us, k.revoked_at_us, k.endorsed)
    }

    #[test_only]
    fun test_root(byte: u8): vector<u8> {
        let root = vector::empty<u8>();
        let i = 0;
        while (i < 32) {
            vector::push_back(&mut root, byte);
            i = i + 1;
        };
        root
    }

    #[test(aptos_framework = @aptos_framework, sink = @0x5151)]
    fun records_a_root_and_finds_it(aptos_framework: &signer, sink: &signer) acquires Anchors {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        timestamp::update_global_time_for_test(1_763_884_800_000_000);
        let root = test_root(7);
        assert!(anchored_at(@0x5151, root) == 0, 100);
        record_root(sink, root, 40, 1_763_884_700_000, 1_763_884_790_000);
        assert!(anchored_at(@0x5151, root) == 1_763_884_800_000_000, 101);
        assert!(anchor_count(@0x5151) == 1, 102);
        assert!(anchored_at(@0x5151, test_root(8)) == 0, 103);
        assert!(anchored_at(@0x7777, root) == 0, 104);
        let expected = RootAnchored {
            anchorer: @0x5151, root, batch_count: 40, first_ts: 1_763_884_700_000, last_ts: 1_763_884_790_000,
            anchored_at_us: 1_763_884_800_000_000, index: 0,
        };
        assert!(event::was_event_emitted(&expected), 105);
    }

    #[test(aptos_framework = @aptos_framework, sink = @0x5151)]
    fun counts_successive_anchors(aptos_framework: &signer, sink: &signer) acquires Anchors {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        record_root(sink, test_root(1), 1, 10, 10);
        timestamp::fast_forward_seconds(60);
        record_root(sink, test_root(2), 3, 11, 20);
        assert!(anchor_count(@0x5151) == 2, 200);
        assert!(anchored_at(@0x5151, test_root(2)) == anchored_at(@0x5151, test_root(1)) + 60_000_000, 201);
    }

    #[test(aptos_framework = @aptos_framework, sink = @0x5151)]
    #[expected_failure(abort_code = 0x80002, location = Self)]
    fun refuses_the_same_root_twice(aptos_framework: &signer, sink: &signer) acquires Anchors {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        record_root(sink, test_root(3), 1, 1, 2);
        record_root(sink, test_root(3), 1, 1, 2);
    }

    #[test(aptos_framework = @aptos_framework, sink = @0x5151)]
    #[expected_failure(abort_code = 0x10001, location = Self)]
    fun refuses_a_short_root(aptos_framework: &signer, sink: &signer) acquires Anchors {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        record_root(sink, x"0102", 1, 1, 2);
    }

    #[test(aptos_framework = @aptos_framework, sink = @0x5151)]
    #[expected_failure(abort_code = 0x10003, location = Self)]
    fun refuses_an_empty_anchor(aptos_framework: &signer, sink: &signer) acquires Anchors {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        record_root(sink, test_root(4), 0, 1, 2);
    }

    #[test(aptos_framework = @aptos_framework, sink = @0x5151)]
    #[expected_failure(abort_code = 0x10004, location = Self)]
    fun refuses_reversed_times(aptos_framework: &signer, sink: &signer) acquires Anchors {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        record_root(sink, test_root(5), 2, 20, 10);
    }
}

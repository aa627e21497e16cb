#[test_only]
/// Unit tests of the device key registry in sources/anchor.move: each entry function, each view,
/// each abort code, and that one account cannot change another's registry. `aptos move test`.
module fieldproof::device_keys_tests {
    use std::signer;
    use std::string::{Self, String};
    use std::vector;
    use aptos_framework::event;
    use aptos_framework::timestamp;
    use aptos_std::ed25519;
    use fieldproof::anchor;

    const NO_END: u64 = 18446744073709551615;
    const T0_US: u64 = 1_763_884_800_000_000;

    fun device(): String { string::utf8(b"site-a-gw1") }

    fun start(aptos_framework: &signer) {
        timestamp::set_time_has_started_for_testing(aptos_framework);
        timestamp::update_global_time_for_test(T0_US);
    }

    fun new_key(): (ed25519::SecretKey, vector<u8>) {
        let (sk, pk) = ed25519::generate_keys();
        (sk, ed25519::validated_public_key_to_bytes(&pk))
    }

    fun endorse(sk: &ed25519::SecretKey, operator: address, old_key: vector<u8>, new_key: vector<u8>, valid_from_ms: u64): vector<u8> {
        let message = anchor::rotation_message(operator, device(), old_key, new_key, valid_from_ms);
        ed25519::signature_to_bytes(&ed25519::sign_arbitrary_bytes(sk, message))
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    fun registers_a_key_and_answers_the_views(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (_, key) = new_key();
        assert!(vector::is_empty(&anchor::device_keys(op, device())), 1);
        assert!(!anchor::key_valid_at(op, device(), key, 2_000), 2);
        anchor::register_device_key(operator, device(), key, 1_000);
        assert!(!anchor::key_valid_at(op, device(), key, 999), 3);
        assert!(anchor::key_valid_at(op, device(), key, 1_000), 4);
        assert!(anchor::key_valid_at(op, device(), key, NO_END - 1), 5);
        assert!(!anchor::key_valid_at(@0x7777, device(), key, 1_000), 6);
        assert!(!anchor::key_valid_at(op, string::utf8(b"site-b"), key, 1_000), 7);
        let keys = anchor::device_keys(op, device());
        assert!(vector::length(&keys) == 1, 8);
        let (k, from, until, revoked_from, registered_at, revoked_at, endorsed) = anchor::key_fields(vector::borrow(&keys, 0));
        assert!(k == key && from == 1_000 && until == NO_END && revoked_from == NO_END, 9);
        assert!(registered_at == T0_US && revoked_at == 0 && !endorsed, 10);
        assert!(event::was_event_emitted(&anchor::registered_event(op, device(), key, 1_000)), 11);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    fun rotates_with_the_old_keys_endorsement(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (sk1, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        timestamp::fast_forward_seconds(60);
        anchor::rotate_device_key(operator, device(), key2, 5_000, endorse(&sk1, op, key1, key2, 5_000));
        assert!(anchor::key_valid_at(op, device(), key1, 4_999), 1);
        assert!(!anchor::key_valid_at(op, device(), key1, 5_000), 2);
        assert!(anchor::key_valid_at(op, device(), key2, 5_000), 3);
        assert!(!anchor::key_valid_at(op, device(), key2, 4_999), 4);
        let keys = anchor::device_keys(op, device());
        assert!(vector::length(&keys) == 2, 5);
        let (_, _, until1, _, _, _, _) = anchor::key_fields(vector::borrow(&keys, 0));
        let (k2, from2, until2, _, registered2, _, endorsed2) = anchor::key_fields(vector::borrow(&keys, 1));
        assert!(until1 == 5_000 && k2 == key2 && from2 == 5_000 && until2 == NO_END && endorsed2, 6);
        assert!(registered2 == T0_US + 60_000_000, 7);
        assert!(event::was_event_emitted(&anchor::rotated_event(op, device(), key1, key2, 5_000, true)), 8);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x5000c, location = fieldproof::anchor)]
    fun refuses_an_endorsement_by_another_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (_, key1) = new_key();
        let (sk2, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::rotate_device_key(operator, device(), key2, 5_000, endorse(&sk2, op, key1, key2, 5_000));
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x5000c, location = fieldproof::anchor)]
    fun refuses_an_endorsement_of_another_time(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (sk1, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::rotate_device_key(operator, device(), key2, 6_000, endorse(&sk1, op, key1, key2, 5_000));
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x5000c, location = fieldproof::anchor)]
    fun refuses_an_endorsement_for_another_operator(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (sk1, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::rotate_device_key(operator, device(), key2, 5_000, endorse(&sk1, @0x7777, key1, key2, 5_000));
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x5000c, location = fieldproof::anchor)]
    fun refuses_a_malformed_endorsement(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::rotate_device_key(operator, device(), key2, 5_000, x"00");
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    fun replaces_a_lost_key_on_the_operators_word(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::replace_device_key(operator, device(), key2, 7_000);
        assert!(anchor::key_valid_at(op, device(), key1, 6_999) && !anchor::key_valid_at(op, device(), key1, 7_000), 1);
        assert!(anchor::key_valid_at(op, device(), key2, 7_000), 2);
        let keys = anchor::device_keys(op, device());
        let (_, _, _, _, _, _, endorsed) = anchor::key_fields(vector::borrow(&keys, 1));
        assert!(!endorsed, 3);
        assert!(event::was_event_emitted(&anchor::rotated_event(op, device(), key1, key2, 7_000, false)), 4);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    fun revokes_a_key_from_a_time(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (_, key) = new_key();
        anchor::register_device_key(operator, device(), key, 1_000);
        timestamp::fast_forward_seconds(5);
        anchor::revoke_device_key(operator, device(), key, 3_000);
        assert!(anchor::key_valid_at(op, device(), key, 2_999), 1);
        assert!(!anchor::key_valid_at(op, device(), key, 3_000), 2);
        let keys = anchor::device_keys(op, device());
        let (_, _, until, revoked_from, _, revoked_at, _) = anchor::key_fields(vector::borrow(&keys, 0));
        assert!(until == NO_END && revoked_from == 3_000 && revoked_at == T0_US + 5_000_000, 3);
        assert!(event::was_event_emitted(&anchor::revoked_event(op, device(), key, 3_000)), 4);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    fun revokes_an_earlier_key_and_keeps_its_successor(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (sk1, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::rotate_device_key(operator, device(), key2, 5_000, endorse(&sk1, op, key1, key2, 5_000));
        anchor::revoke_device_key(operator, device(), key1, 2_000);
        assert!(anchor::key_valid_at(op, device(), key1, 1_999), 1);
        assert!(!anchor::key_valid_at(op, device(), key1, 2_000), 2);
        assert!(anchor::key_valid_at(op, device(), key2, 5_000), 3);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    fun replaces_a_revoked_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::revoke_device_key(operator, device(), key1, 1_500);
        anchor::replace_device_key(operator, device(), key2, 2_000);
        assert!(anchor::key_valid_at(op, device(), key2, 2_000), 1);
        assert!(!anchor::key_valid_at(op, device(), key1, 1_700), 2);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x3000d, location = fieldproof::anchor)]
    fun refuses_an_endorsement_by_a_revoked_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (sk1, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::revoke_device_key(operator, device(), key1, 9_000);
        anchor::rotate_device_key(operator, device(), key2, 5_000, endorse(&sk1, op, key1, key2, 5_000));
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x3000e, location = fieldproof::anchor)]
    fun refuses_to_revoke_twice(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::register_device_key(operator, device(), key, 1_000);
        anchor::revoke_device_key(operator, device(), key, 3_000);
        anchor::revoke_device_key(operator, device(), key, 2_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x60009, location = fieldproof::anchor)]
    fun refuses_to_revoke_a_key_the_device_never_had(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::revoke_device_key(operator, device(), key2, 3_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10010, location = fieldproof::anchor)]
    fun refuses_a_revocation_from_no_time(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::register_device_key(operator, device(), key, 1_000);
        anchor::revoke_device_key(operator, device(), key, NO_END);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10010, location = fieldproof::anchor)]
    fun refuses_a_successor_from_no_time(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::replace_device_key(operator, device(), key2, NO_END);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x80007, location = fieldproof::anchor)]
    fun refuses_to_register_a_device_twice(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::register_device_key(operator, device(), key2, 2_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10005, location = fieldproof::anchor)]
    fun refuses_a_key_of_small_order(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        // the neutral element's encoding: a point, but of order 1
        anchor::register_device_key(operator, device(), x"0100000000000000000000000000000000000000000000000000000000000000", 1_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10005, location = fieldproof::anchor)]
    fun refuses_a_short_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        anchor::register_device_key(operator, device(), x"d04ab232742bb4ab3a1368bd4615e4e6", 1_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10005, location = fieldproof::anchor)]
    fun refuses_to_rotate_to_an_invalid_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::replace_device_key(operator, device(), x"00", 2_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10006, location = fieldproof::anchor)]
    fun refuses_an_empty_device_name(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::register_device_key(operator, string::utf8(b""), key, 1_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x10006, location = fieldproof::anchor)]
    fun refuses_a_device_name_batches_cannot_carry(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::register_device_key(operator, string::utf8(b"-site a"), key, 1_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x8000a, location = fieldproof::anchor)]
    fun refuses_to_reuse_a_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::replace_device_key(operator, device(), key2, 2_000);
        anchor::replace_device_key(operator, device(), key1, 3_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x1000b, location = fieldproof::anchor)]
    fun refuses_a_successor_that_does_not_count_later(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key1) = new_key();
        let (_, key2) = new_key();
        anchor::register_device_key(operator, device(), key1, 1_000);
        anchor::replace_device_key(operator, device(), key2, 1_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x9000f, location = fieldproof::anchor)]
    fun refuses_a_65th_key(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::register_device_key(operator, device(), key, 1_000);
        let i = 1;
        while (i <= 64) {
            let (_, next) = new_key();
            anchor::replace_device_key(operator, device(), next, 1_000 + i);
            i = i + 1;
        };
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x60008, location = fieldproof::anchor)]
    fun refuses_to_rotate_an_unknown_device(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::rotate_device_key(operator, device(), key, 5_000, x"");
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x60008, location = fieldproof::anchor)]
    fun refuses_to_replace_the_key_of_an_unknown_device(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::replace_device_key(operator, device(), key, 5_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151)]
    #[expected_failure(abort_code = 0x60008, location = fieldproof::anchor)]
    fun refuses_to_revoke_a_key_of_an_unknown_device(aptos_framework: &signer, operator: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::revoke_device_key(operator, device(), key, 5_000);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151, stranger = @0x7777)]
    fun keeps_each_accounts_registry_its_own(aptos_framework: &signer, operator: &signer, stranger: &signer) {
        start(aptos_framework);
        let op = signer::address_of(operator);
        let (_, key) = new_key();
        let (_, forged) = new_key();
        anchor::register_device_key(operator, device(), key, 1_000);
        // The stranger registers the operator's device name with a key of its own: that lands in
        // the stranger's registry, and the operator's answers do not change.
        anchor::register_device_key(stranger, device(), forged, 0);
        assert!(anchor::key_valid_at(@0x7777, device(), forged, 1_000), 1);
        assert!(!anchor::key_valid_at(op, device(), forged, 1_000), 2);
        assert!(anchor::key_valid_at(op, device(), key, 1_000), 3);
        assert!(vector::length(&anchor::device_keys(op, device())) == 1, 4);
    }

    #[test(aptos_framework = @aptos_framework, operator = @0x5151, stranger = @0x7777)]
    #[expected_failure(abort_code = 0x60008, location = fieldproof::anchor)]
    fun refuses_a_stranger_revoking_the_operators_key(aptos_framework: &signer, operator: &signer, stranger: &signer) {
        start(aptos_framework);
        let (_, key) = new_key();
        anchor::register_device_key(operator, device(), key, 1_000);
        anchor::revoke_device_key(stranger, device(), key, 1_000);
    }

    #[test]
    /// The worked example of docs/spec/proofs.md: the message, and the endorsement made off chain
    /// with the example device's key, which the module's own check accepts.
    fun builds_the_rotation_message_of_the_specification() {
        let old_key = x"d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737";
        let new_key = x"a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f0";
        let message = anchor::rotation_message(@0xcafe, device(), old_key, new_key, 1_763_884_900_000);
        assert!(message == x"4649454c4450524f4f463a3a4465766963654b6579526f746174696f6e000000000000000000000000000000000000000000000000000000000000cafe0a736974652d612d677731d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f0a09ebbaf9a010000", 1);
        let endorsement = ed25519::new_signature_from_bytes(x"806988207589e762dab1a004f2cce2580a5fe0df5354bd7316c14a7372e2ffbb9938a0adcc29a27017f07d1c867777bcd1124f2ff82187b32793324870612d03");
        assert!(ed25519::signature_verify_strict(&endorsement, &ed25519::new_unvalidated_public_key_from_bytes(old_key), message), 2);
    }
}

/// Anchors of fieldproof sinks: each anchor is the RFC 6962 Merkle root over the hashes of the
/// signed batch headers a sink accepted during one interval. Anyone holding a record proof can
/// look the root up here to learn that it existed, unchanged, at the time it was anchored.
///
/// Each anchoring account keeps its own table, so several sinks (or operators) can share one
/// published module without trusting each other; a proof names the sender of the transaction.
module fieldproof::anchor {
    use std::error;
    use std::signer;
    use std::vector;
    use aptos_framework::event;
    use aptos_framework::timestamp;
    use aptos_std::table::{Self, Table};

    /// The root is not 32 bytes (a SHA-256 hash).
    const E_ROOT_LENGTH: u64 = 1;
    /// This account already anchored this root.
    const E_ALREADY_ANCHORED: u64 = 2;
    /// An anchor covers at least one batch.
    const E_NO_BATCHES: u64 = 3;
    /// first_ts is after last_ts.
    const E_TIME_ORDER: u64 = 4;

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

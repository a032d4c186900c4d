use super::*;

fn rev(v: u64) -> Vec<u8> {
    revision::key_bytes(v, 0).to_vec()
}

/// A tree read whole up to 301, its records allowing any compaction up to the head, the records
/// showing revisions up to `lower` compacted.
fn whole(lower: u64) -> Bounds {
    Bounds { upper: u64::MAX, lower, head: 301, whole: true }
}

fn meta<'a>(f: &'a [u8], s: &'a [u8]) -> Vec<(&'a [u8], &'a [u8])> {
    vec![(FINISHED_COMPACT_REV, f), (SCHEDULED_COMPACT_REV, s)]
}

#[test]
fn a_meta_bucket_without_compaction_keys() {
    let none = Elsewhere::default();
    assert_eq!(judge(Some(&[]), true, none, whole(0)).revision, Some(0), "never compacted");
    let older = Elsewhere { any_root: Some(101), older: [Some(101), Some(101)] };
    let j = judge(Some(&[]), true, older, whole(100));
    assert_eq!((j.revision, j.record), (Some(101), [Some(101), Some(101)]), "the keys were lost");
    let j = judge(Some(&[]), true, none, whole(100));
    assert_eq!((j.revision, j.record), (None, [None, None]), "compacted, or migrated: unknown");
    assert_eq!(
        judge(Some(&[]), false, Elsewhere { any_root: Some(7), older: [None, None] }, whole(0)).revision,
        Some(7)
    );
    assert_eq!(judge(None, true, none, whole(0)).revision, None);
}

#[test]
fn an_unreadable_key_is_recorded_as_the_rest_allows() {
    let none = Elsewhere::default();
    let m: Vec<(&[u8], &[u8])> = vec![(FINISHED_COMPACT_REV, b"\x01\x02"), (SCHEDULED_COMPACT_REV, b"junk")];
    let j = judge(Some(&m), true, none, whole(0));
    assert_eq!((j.revision, j.record), (None, [Some(0), Some(0)]));
    assert!(j.notes[0].contains("cannot be read"));
    let j = judge(Some(&m), true, Elsewhere { any_root: None, older: [Some(5), Some(5)] }, whole(0));
    assert_eq!((j.revision, j.record), (Some(5), [Some(5), Some(5)]));
    // The finished one cut, the scheduled one past the head: the older copies say (not 5000).
    let s = rev(5000);
    let m = meta(&s[..16], &s);
    let j = judge(Some(&m), true, Elsewhere { any_root: Some(5000), older: [Some(101), Some(101)] }, whole(100));
    assert_eq!((j.revision, j.record), (Some(101), [Some(101), None]));
    // An interrupted compaction: the finished one cut is recorded as high as the records allow.
    let s = rev(16);
    let m = meta(&s[..16], &s);
    let b = Bounds { upper: 1, lower: 0, head: 19, whole: true };
    let j = judge(Some(&m), true, Elsewhere::default(), b);
    assert_eq!((j.revision, j.record), (Some(16), [Some(1), None]));
    // The scheduled one cut: recorded as the finished one.
    let f = rev(16);
    let m = meta(&f, &f[..10]);
    assert_eq!(judge(Some(&m), true, none, whole(0)).record, [None, Some(16)]);
}

#[test]
fn finished_past_scheduled_takes_the_value_the_records_allow() {
    let none = Elsewhere::default();
    let (f, s) = (rev((1 << 48) + 101), rev(101));
    let j = judge(Some(&meta(&f, &s)), true, none, whole(100));
    assert_eq!((j.revision, j.record), (Some(101), [Some(101), None]));
    // The scheduled one lowered: the records show revision 100 compacted, so 37 cannot be.
    let (f, s) = (rev(101), rev(37));
    let j = judge(Some(&meta(&f, &s)), true, none, whole(100));
    assert_eq!((j.revision, j.record), (Some(101), [None, Some(101)]));
    // Both possible: the older copies' 101 says the scheduled one is right; without them, the higher.
    let (f, s) = (rev(229), rev(101));
    let older = Elsewhere { any_root: Some(229), older: [Some(101), Some(101)] };
    assert_eq!(judge(Some(&meta(&f, &s)), true, older, whole(100)).revision, Some(101));
    assert_eq!(judge(Some(&meta(&f, &s)), true, none, whole(100)).revision, Some(229));
    // An interrupted compaction at 16 whose finished one (1) was raised: 16 stands as scheduled,
    // and the finished one is recorded where the records allow it.
    let (f, s) = (rev((1 << 48) + 1), rev(16));
    let b = Bounds { upper: 1, lower: 0, head: 19, whole: true };
    let j = judge(Some(&meta(&f, &s)), true, none, b);
    assert_eq!((j.revision, j.record), (Some(16), [Some(1), None]));
}

#[test]
fn a_scheduled_compaction_past_the_head_counts_only_where_later_revisions_may_be_lost() {
    let none = Elsewhere::default();
    let (f, s) = (rev(10), rev(5000));
    assert_eq!(judge(Some(&meta(&f, &s)), true, none, whole(0)).revision, Some(10));
    let (f, s) = (rev(1), rev(16));
    let lost_tail = Bounds { upper: 1, lower: 0, head: 11, whole: false };
    assert_eq!(judge(Some(&meta(&f, &s)), true, none, lost_tail).revision, Some(16));
    assert_eq!(judge(Some(&meta(&f, &s)), true, none, Bounds { whole: true, ..lost_tail }).revision, Some(1));
}

#[test]
fn what_etcd_opens_the_copy_at() {
    let (f, s) = (rev(10), rev(16));
    let m = meta(&f, &s);
    assert_eq!(recorded(&m, &Judged::default()), (Some(10), Some(16)));
    assert_eq!(store_compaction(recorded(&m, &Judged::default()), 19), 16);
    assert_eq!(store_compaction(recorded(&m, &Judged::default()), 11), 10, "a future revision is not run");
    let j = Judged { record: [Some(3), None], ..Judged::default() };
    assert_eq!(recorded(&m, &j), (Some(3), Some(16)));
    assert_eq!(store_compaction((None, None), 19), 0);
}

#[test]
fn older_copies_count_only_where_the_records_allow_them() {
    // The keys lost, the older copies behind a later compaction (40, where the records show 88
    // compacted and none past 96): the records decide, as high as they allow.
    let b = Bounds { upper: 96, lower: 88, head: 111, whole: true };
    let stale = Elsewhere { any_root: Some(40), older: [Some(40), Some(40)] };
    let j = judge(Some(&[]), true, stale, b);
    assert_eq!((j.revision, j.record), (Some(96), [Some(96), Some(96)]));
    // The same values in the `meta` bucket the copy takes from an older root page (the tree's
    // could not be read whole); the current tree's own bucket read whole stands as it is (a
    // revision missing between two records may be a leaf lost with its branch element).
    let f = rev(40);
    let j = judge(Some(&meta(&f, &f)), false, stale, b);
    assert_eq!((j.revision, j.record), (Some(96), [Some(96), Some(96)]));
    let j = judge(Some(&meta(&rev(96), &rev(96))), true, stale, Bounds { lower: 103, ..b });
    assert_eq!((j.revision, j.record), (Some(96), [None, None]));
    // An interrupted compaction whose scheduled key was lost: the older copy's scheduled one.
    let b = Bounds { upper: 2, lower: 0, head: 19, whole: true };
    let older = Elsewhere { any_root: Some(16), older: [None, Some(16)] };
    let j = judge(Some(&[]), true, older, b);
    assert_eq!((j.revision, j.record[1]), (Some(16), Some(16)));
    let one = rev(1);
    let j = judge(Some(&meta(&one, &one[..16])), true, older, b);
    assert_eq!((j.revision, j.record), (Some(16), [None, Some(16)]));
    // The finished key cut, the scheduled one past the head of a tree read whole: the older copy.
    let s = rev(5000);
    let b = Bounds { upper: u64::MAX, lower: 100, head: 301, whole: true };
    let older = Elsewhere { any_root: Some(5000), older: [Some(101), Some(101)] };
    let j = judge(Some(&meta(&s[..16], &s)), true, older, b);
    assert_eq!((j.revision, j.record), (Some(101), [Some(101), None]));
}

#[test]
fn no_record_read_shows_nothing_of_the_compaction() {
    // The `key` bucket unread, the `meta` bucket without compaction keys, no older copy.
    let b = Bounds { upper: u64::MAX, lower: 0, head: 0, whole: false };
    let j = judge(Some(&[]), true, Elsewhere::default(), b);
    assert_eq!((j.revision, j.record), (None, [None, None]));
    // Records read, a page lost: a store never compacted, as its `meta` bucket says.
    let b = Bounds { upper: u64::MAX, lower: 0, head: 9, whole: false };
    assert_eq!(judge(Some(&[]), true, Elsewhere::default(), b).revision, Some(0));
}

#[test]
fn a_guess_never_passes_a_scheduled_compaction_under_way() {
    // Saved mid-compaction: finished 2, scheduled 602, records written after 602 (one key twice:
    // the records' bound is 653). The keys lost from the current bucket: the older copy's 602
    // caps the finished one guessed.
    let b = Bounds { upper: 653, lower: 302, head: 654, whole: true };
    let older = Elsewhere { any_root: Some(602), older: [Some(2), Some(602)] };
    let j = judge(Some(&[]), true, older, b);
    assert_eq!((j.revision, j.record), (Some(602), [Some(602), Some(602)]));
    // The current bucket read whole stands as it is, whatever revisions the deletions removed.
    let (f, s) = (rev(2), rev(602));
    let j = judge(Some(&meta(&f, &s)), true, older, b);
    assert_eq!((j.revision, j.record), (Some(602), [None, None]));
    // Its scheduled key cut: the older copy's.
    let j = judge(Some(&meta(&f, &s[..16])), true, older, b);
    assert_eq!((j.revision, j.record), (Some(602), [None, Some(602)]));
}

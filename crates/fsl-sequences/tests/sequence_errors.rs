//! Configuration errors of the sequences: each names the values that make the request
//! impossible.

use fsl_sequences::{
    BalancedPairs, EpisodeRanges, EpisodeSampler, EpisodeSequence, EpisodeSpec, Error, KShotBatches, KShotSpec,
    LabelTables, Product, RandomBalancedPairs, RandomPairs, RandomProduct, SamplerOptions, Sequence, SingleImages,
    TargetEncoding, Triplets, VariableEpisodeSampler,
};

/// Class 5 has 3 items, class 9 has 2 and class 2 has 4.
const LABELS: [u32; 9] = [5, 5, 5, 9, 9, 2, 2, 2, 2];

#[test]
fn balanced_pairs_rejects_odd_pairs_per_query() {
    let error = BalancedPairs::new(LabelTables::shared(&LABELS), 3, 4, 0).unwrap_err();

    assert!(
        matches!(error, Error::OddPairsPerQuery { pairs_per_query: 3 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("pairs_per_query = 3"), "{error}");
}

#[test]
fn balanced_pairs_rejects_zero_pairs_per_query() {
    let error = BalancedPairs::new(LabelTables::shared(&LABELS), 0, 4, 0).unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidArgument {
                name: "pairs_per_query",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn balanced_sequences_reject_odd_batch_size() {
    let tables = LabelTables::shared(&LABELS);

    let error = BalancedPairs::new(tables, 2, 5, 0).unwrap_err();
    assert!(matches!(error, Error::OddBatchSize { batch_size: 5 }), "{error:?}");

    let error = RandomBalancedPairs::new(tables, 7, 0).unwrap_err();
    assert!(matches!(error, Error::OddBatchSize { batch_size: 7 }), "{error:?}");
    assert!(error.to_string().contains("batch_size = 7"), "{error}");
}

#[test]
fn sequences_reject_zero_batch_size() {
    let tables = LabelTables::shared(&LABELS);

    for error in [
        RandomPairs::new(tables, 0, 0).unwrap_err(),
        Triplets::new(tables, 0, 0).unwrap_err(),
        RandomProduct::new(&LABELS, 0, 0).unwrap_err(),
        Product::new(3, 3, 0).unwrap_err(),
        SingleImages::new(&LABELS, &[5, 9, 2], TargetEncoding::Codes, 0).unwrap_err(),
    ] {
        assert!(
            matches!(
                error,
                Error::InvalidArgument {
                    name: "batch_size",
                    value: 0,
                    ..
                }
            ),
            "{error:?}"
        );
    }
}

#[test]
fn kshot_rejects_batch_not_multiple_of_k() {
    let error = KShotSpec::new(3, 10).unwrap_err();

    assert!(
        matches!(
            error,
            Error::BatchSizeNotMultipleOfKShot {
                batch_size: 10,
                k_shot: 3
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("batch_size = 10"), "{error}");
    assert!(error.to_string().contains("k_shot = 3"), "{error}");
}

#[test]
fn kshot_rejects_class_below_k_naming_it() {
    let spec = KShotSpec::new(3, 6).unwrap();
    let error = KShotBatches::new(&LABELS, spec, 0).unwrap_err();

    // Class 9 is the only one with fewer than 3 items.
    match &error {
        Error::ClassBelowKShot { class, have, k_shot } => {
            assert_eq!(class, "9");
            assert_eq!(*have, 2);
            assert_eq!(*k_shot, 3);
        }
        other => panic!("expected ClassBelowKShot, got {other:?}"),
    }
    assert!(error.to_string().contains("class 9 has 2 items"), "{error}");
}

#[test]
fn kshot_pads_small_class_when_asked() {
    let spec = KShotSpec::new(3, 9).unwrap().with_padding(true);
    let sequence = KShotBatches::new(&LABELS, spec, 0).unwrap();

    let batch = sequence.batch(0, 0).unwrap();
    let nine = batch.class_ids.iter().position(|&class| class == 9).unwrap();
    let mut items = batch.items[nine * 3..nine * 3 + 3].to_vec();
    items.sort_unstable();
    items.dedup();
    assert_eq!(items, [3, 4], "both items of class 9, one of them twice");
}

#[test]
fn kshot_rejects_too_few_classes_for_batch() {
    let spec = KShotSpec::new(1, 4).unwrap();
    let error = KShotBatches::new(&LABELS, spec, 0).unwrap_err();

    assert!(
        matches!(
            error,
            Error::NotEnoughClassesForBatch {
                classes_per_batch: 4,
                batch_size: 4,
                k_shot: 1,
                available: 3
            }
        ),
        "{error:?}"
    );
}

#[test]
fn pairs_reject_class_without_positive() {
    // Class 7 has one item, and a shared table never pairs an item with itself.
    let labels = [1, 1, 7, 3, 3];
    let error = RandomBalancedPairs::new(LabelTables::shared(&labels), 2, 0).unwrap_err();

    match &error {
        Error::NoPositivePartner { class, shared } => {
            assert_eq!(class, "7");
            assert!(*shared);
        }
        other => panic!("expected NoPositivePartner, got {other:?}"),
    }
    assert!(error.to_string().contains("class 7"), "{error}");
}

#[test]
fn pairs_reject_query_class_missing_from_support() {
    let query = [1, 2, 4];
    let support = [1, 1, 2, 2];
    let error = BalancedPairs::new(LabelTables::separate(&query, &support), 2, 2, 0).unwrap_err();

    assert!(
        matches!(&error, Error::NoPositivePartner { class, shared: false } if class == "4"),
        "{error:?}"
    );
}

#[test]
fn pairs_reject_single_support_class() {
    let query = [1, 1];
    let support = [1, 1, 1];
    let error = Triplets::new(LabelTables::separate(&query, &support), 2, 0).unwrap_err();

    assert!(
        matches!(&error, Error::NoNegativePartner { class } if class == "1"),
        "{error:?}"
    );
}

#[test]
fn sequences_reject_empty_tables() {
    let empty: [u32; 0] = [];

    let error = RandomPairs::new(LabelTables::separate(&LABELS, &empty), 2, 0).unwrap_err();
    assert!(matches!(error, Error::EmptyTable { table: "support" }), "{error:?}");

    let error = RandomPairs::new(LabelTables::shared(&empty), 2, 0).unwrap_err();
    assert!(matches!(error, Error::EmptyTable { table: "query" }), "{error:?}");

    let error = Product::new(0, 3, 2).unwrap_err();
    assert!(matches!(error, Error::EmptyTable { table: "query" }), "{error:?}");
}

#[test]
fn single_images_rejects_label_outside_class_list() {
    let error = SingleImages::new(&LABELS, &[5, 2], TargetEncoding::OneHot, 4).unwrap_err();

    assert!(
        matches!(&error, Error::UnknownClass { label, item: 3 } if label == "9"),
        "{error:?}"
    );
}

#[test]
fn single_images_rejects_duplicate_class() {
    let error = SingleImages::new(&LABELS, &[5, 9, 2, 9], TargetEncoding::Codes, 4).unwrap_err();

    assert!(
        matches!(&error, Error::DuplicateClass { class } if class == "9"),
        "{error:?}"
    );
}

#[test]
fn batch_past_epoch_end_is_error() {
    let sequence = RandomPairs::new(LabelTables::shared(&LABELS), 4, 0).unwrap();
    assert_eq!(sequence.len(), 3);

    let error = sequence.batch(0, 3).unwrap_err();
    assert!(
        matches!(error, Error::BatchOutOfRange { index: 3, len: 3 }),
        "{error:?}"
    );
    assert_eq!(sequence.epoch(0).count(), 3);
}

#[test]
fn episode_sequence_rejects_zero_episodes() {
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let sampler = EpisodeSampler::new(&LABELS, spec, SamplerOptions::new()).unwrap();
    let error = EpisodeSequence::new(sampler, 0, 0).unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidArgument {
                name: "episodes_per_epoch",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn episode_ranges_reject_empty_or_zero() {
    // Built from variables because clippy rejects a literal empty range.
    let (start, end) = (3, 2);
    let error = EpisodeRanges::new(start..=end, 1..=1, 0..=0).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidRange {
                name: "n_way",
                start: 3,
                end: 2,
                ..
            }
        ),
        "{error:?}"
    );

    let error = EpisodeRanges::new(1..=2, 0..=1, 0..=0).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidRange {
                name: "k_shot",
                start: 0,
                end: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("k_shot range 0..=1"), "{error}");
}

#[test]
fn variable_sampler_checks_largest_shape() {
    // The largest shape takes 2 + 1 items per class; class 9 has 2.
    let ranges = EpisodeRanges::new(1..=2, 1..=2, 1..=1).unwrap();
    let error = VariableEpisodeSampler::new(&LABELS, ranges.clone(), SamplerOptions::new()).unwrap_err();
    assert!(
        matches!(&error, Error::ClassTooSmall { class, have: 2, need: 3 } if class == "9"),
        "{error:?}"
    );

    // Skipping leaves classes 5 and 2, enough for n_way up to 2 but not 3.
    let options = SamplerOptions::new().with_skip_small_classes(true);
    let sampler = VariableEpisodeSampler::new(&LABELS, ranges, options.clone()).unwrap();
    assert_eq!(sampler.eligible_classes(), [5, 2]);
    assert_eq!(sampler.skipped_classes(), [9]);

    let wide = EpisodeRanges::new(1..=3, 1..=2, 1..=1).unwrap();
    let error = VariableEpisodeSampler::new(&LABELS, wide, options).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::NotEnoughEligibleClasses {
                n_way: 3,
                eligible: 2,
                ..
            }
        ),
        "{error:?}"
    );
}

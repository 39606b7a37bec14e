//! Construction-time checks: too-small classes, too few classes and invalid shapes.

use std::collections::HashSet;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fsl_sequences::{EpisodeSampler, EpisodeSpec, Error, SamplerOptions};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Class 5 has 3 items, class 9 has 2, class 2 has 4.
const LABELS: [i64; 9] = [5, 5, 5, 9, 9, 2, 2, 2, 2];

/// Runs `work` on another thread and fails if it takes longer than one second, so a sampler
/// that retries forever fails the test instead of hanging it.
fn within_one_second<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(Duration::from_secs(1))
        .expect("sampler did not finish within 1 s")
}

fn build(n_way: usize, k_shot: usize, q_query: usize, skip_small_classes: bool) -> Result<EpisodeSampler<i64>, Error> {
    let spec = EpisodeSpec::new(n_way, k_shot, q_query)?;
    let options = SamplerOptions::new().with_skip_small_classes(skip_small_classes);
    EpisodeSampler::new(&LABELS, spec, options)
}

#[test]
fn too_small_class_named_by_id() {
    let result = within_one_second(|| build(2, 2, 1, false));

    let error = result.expect_err("class 9 has 2 items, 3 are needed");
    let message = error.to_string();
    match error {
        Error::ClassTooSmall { class, have, need } => {
            assert_eq!(class, "9");
            assert_eq!(have, 2);
            assert_eq!(need, 3);
        }
        other => panic!("expected ClassTooSmall, got {other:?}"),
    }
    assert!(message.contains('9'), "message: {message}");
    assert!(message.contains("has 2 items"), "message: {message}");
    assert!(message.contains("needs 3"), "message: {message}");
}

#[test]
fn n_way_above_class_count_rejected() {
    let result = within_one_second(|| build(4, 1, 1, false));

    let error = result.expect_err("only 3 classes exist");
    let message = error.to_string();
    assert!(matches!(error, Error::NotEnoughClasses { n_way: 4, available: 3 }));
    assert!(message.contains("n_way = 4"), "message: {message}");
    assert!(message.contains("3 classes"), "message: {message}");
}

#[test]
fn skip_mode_never_draws_small_class() {
    let sampler = within_one_second(|| build(2, 2, 1, true)).expect("classes 5 and 2 are eligible");
    assert_eq!(sampler.skipped_classes(), [9]);
    assert_eq!(sampler.eligible_classes(), [5, 2]);

    let mut rng = StdRng::seed_from_u64(0);
    let mut counts = [0usize; 3];
    for _ in 0..1000 {
        let episode = sampler.sample(&mut rng);
        for class in &episode.class_ids {
            match class {
                5 => counts[0] += 1,
                2 => counts[1] += 1,
                _ => counts[2] += 1,
            }
        }
    }

    assert_eq!(counts[0], 1000);
    assert_eq!(counts[1], 1000);
    assert_eq!(counts[2], 0, "class 9 was drawn");
}

#[test]
fn skip_mode_reports_eligible_count() {
    let result = within_one_second(|| build(3, 2, 1, true));

    let error = result.expect_err("only 2 classes are eligible");
    let message = error.to_string();
    match error {
        Error::NotEnoughEligibleClasses {
            n_way,
            eligible,
            need,
            too_small,
        } => {
            assert_eq!(n_way, 3);
            assert_eq!(eligible, 2);
            assert_eq!(need, 3);
            assert_eq!(too_small, ["9"]);
        }
        other => panic!("expected NotEnoughEligibleClasses, got {other:?}"),
    }
    assert!(message.contains("2 eligible classes"), "message: {message}");
    assert!(message.contains("skipped: 9"), "message: {message}");
}

#[test]
fn zero_n_way_or_k_shot_rejected() {
    for (n_way, k_shot, field) in [(0, 1, "n_way"), (2, 0, "k_shot")] {
        let result = within_one_second(move || build(n_way, k_shot, 1, false));

        match result {
            Err(Error::InvalidArgument { name, value, .. }) => {
                assert_eq!(name, field);
                assert_eq!(value, 0);
            }
            other => panic!("expected InvalidArgument for {field}, got {other:?}"),
        }
    }
}

#[test]
fn zero_q_query_gives_support_only_episodes() {
    let sampler = build(3, 2, 0, false).expect("every class has at least 2 items");

    let episode = sampler.episode(1, 0);

    assert_eq!(episode.support.len(), 6);
    assert!(episode.query.is_empty());
    assert!(episode.query_labels.is_empty());
}

#[test]
fn allowed_class_must_exist() {
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let options = SamplerOptions::new().with_allowed_classes([5, 4]);

    let result = EpisodeSampler::new(&LABELS, spec, options);

    match result {
        Err(Error::UnknownAllowedClass { class }) => assert_eq!(class, "4"),
        other => panic!("expected UnknownAllowedClass, got {other:?}"),
    }
}

#[test]
fn empty_labels_rejected() {
    let spec = EpisodeSpec::new(1, 1, 0).unwrap();

    let result = EpisodeSampler::<i64>::new(&[], spec, SamplerOptions::new());

    assert!(matches!(
        result,
        Err(Error::NotEnoughClasses { n_way: 1, available: 0 })
    ));
}

#[test]
fn support_and_query_overlap_impossible_for_exact_fit() {
    // Each class has exactly k_shot + q_query items, the tightest feasible case.
    let sampler = build(3, 1, 1, false).expect("class 9 has exactly 2 items");

    for index in 0..200 {
        let episode = sampler.episode(5, index);
        let support: HashSet<usize> = episode.support.iter().copied().collect();
        assert!(episode.query.iter().all(|item| !support.contains(item)));
    }
}

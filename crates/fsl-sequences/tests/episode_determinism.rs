//! Reproducibility of episodes from (seed, index).

use fsl_sequences::{EpisodeSampler, EpisodeSpec, SamplerOptions};

fn sampler() -> EpisodeSampler<u32> {
    let labels: Vec<u32> = (0..100).map(|item| item % 10).collect();
    let spec = EpisodeSpec::new(5, 2, 3).unwrap();
    EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap()
}

#[test]
fn same_seed_and_index_same_episode() {
    let first = sampler();
    let second = sampler();

    for index in 0..100 {
        assert_eq!(first.episode(17, index), second.episode(17, index));
    }
}

#[test]
fn episode_independent_of_draw_order() {
    let sampler = sampler();

    let forward: Vec<_> = (0..20).map(|index| sampler.episode(3, index)).collect();
    let backward: Vec<_> = (0..20).rev().map(|index| sampler.episode(3, index)).collect();

    assert!(forward.iter().eq(backward.iter().rev()));
}

#[test]
fn different_seeds_or_indices_differ() {
    let sampler = sampler();

    assert_ne!(sampler.episode(17, 0), sampler.episode(18, 0));
    assert_ne!(sampler.episode(17, 0), sampler.episode(17, 1));
}

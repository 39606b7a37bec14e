//! Invalid parameters are rejected at construction with an error naming the parameter.

use fsl_augment::{
    CenterCrop, ColorJitter, Crop, ElasticDistortion, Error, Extent, Gamma, GaussianBlur, HorizontalFlip, Invert, Pad,
    RandomResizedCrop, Resize, ResizeFilter, Result, Rotate90, SomeOf, Sometimes,
};

/// Returns the parameter an error names.
fn field_of(error: &Error) -> &'static str {
    match error {
        Error::NotFinite { field, .. }
        | Error::ReversedRange { field, .. }
        | Error::OutOfRange { field, .. }
        | Error::TooFewOptions { field, .. }
        | Error::ZeroSize { field } => field,
        Error::EmptyOptions { combinator } => combinator,
        other => panic!("error without a parameter name: {other:?}"),
    }
}

fn assert_rejects<T: std::fmt::Debug>(result: Result<T>, expected_field: &str) {
    let error = result.expect_err(expected_field);

    assert_eq!(field_of(&error), expected_field, "{error}");
    assert!(error.to_string().contains(expected_field), "{error}");
}

#[test]
fn probability_outside_unit_interval_rejected() {
    assert_rejects(Sometimes::new(-0.01, Invert), "p");
    assert_rejects(Sometimes::new(1.01, Invert), "p");
    assert_rejects(Sometimes::new(f32::NAN, Invert), "p");
}

#[test]
fn reversed_ranges_rejected() {
    assert_rejects(Gamma::new((2.0, 1.0)), "gamma");
    assert_rejects(GaussianBlur::new((2.0, 1.0)), "sigma");
    assert_rejects(ElasticDistortion::new((3.0, 1.0), 2.0), "alpha");
    assert_rejects(Crop::new(Extent::Pixels { min: 3, max: 1 }), "crop");
    assert_rejects(Pad::new(Extent::Fraction { min: 0.3, max: 0.1 }, 0), "pad");
    assert_rejects(RandomResizedCrop::new(8, 8, (0.9, 0.1), (1.0, 1.0)), "scale");
    assert_rejects(RandomResizedCrop::new(8, 8, (0.1, 0.9), (2.0, 1.0)), "ratio");
    assert_rejects(Rotate90::new(2, 1), "turns");
}

#[test]
fn values_outside_domain_rejected() {
    assert_rejects(Gamma::new((0.0, 1.0)), "gamma");
    assert_rejects(GaussianBlur::new((-1.0, 1.0)), "sigma");
    assert_rejects(ElasticDistortion::new((1.0, 2.0), 0.0), "sigma");
    assert_rejects(ElasticDistortion::new((-1.0, 2.0), 1.0), "alpha");
    assert_rejects(Crop::new(Extent::Fraction { min: 0.1, max: 0.5 }), "crop");
    assert_rejects(Pad::new(Extent::Fraction { min: -0.1, max: 0.5 }, 0), "pad");
    assert_rejects(RandomResizedCrop::new(8, 8, (0.0, 1.0), (1.0, 1.0)), "scale");
    assert_rejects(RandomResizedCrop::new(8, 8, (0.5, 1.1), (1.0, 1.0)), "scale");
    assert_rejects(RandomResizedCrop::new(8, 8, (0.5, 1.0), (0.0, 1.0)), "ratio");
    assert_rejects(ColorJitter::new(0.1, -0.2, 0.1), "contrast");
    assert_rejects(ColorJitter::new(0.1, 0.1, f32::INFINITY), "saturation");
    assert_rejects(Rotate90::new(0, 4), "max_turns");
}

#[test]
fn zero_output_size_rejected() {
    assert_rejects(Resize::new(0, 4, ResizeFilter::Bilinear), "width");
    assert_rejects(Resize::new(4, 0, ResizeFilter::Bilinear), "height");
    assert_rejects(CenterCrop::new(3, 0), "height");
    assert_rejects(RandomResizedCrop::new(0, 8, (0.5, 1.0), (1.0, 1.0)), "width");
}

#[test]
fn some_of_counts_checked() {
    assert_rejects(SomeOf::new(0, 1, Vec::new()), "some-of");
    assert_rejects(
        SomeOf::new(2, 1, vec![Box::new(Invert), Box::new(HorizontalFlip)]),
        "count",
    );
    assert_rejects(
        SomeOf::new(1, 3, vec![Box::new(Invert), Box::new(HorizontalFlip)]),
        "max",
    );
}

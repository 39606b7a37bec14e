//! Gradients of Conv-4 through its max poolings, on images with flat regions (tied maxima in
//! many pooling windows) and on 28x28 images, whose poolings go 7 to 3 to 1 and so drop rows
//! and columns.
//!
//! The pooling operation alone is tested in `fsl-layers/tests/max_pool.rs`. Here the references
//! are central finite differences of the whole encoder in f64 and the first-maximum rule on a
//! tied case built into an image. The stock candle backend is no reference for gradients: in
//! candle-core 0.11.1 its max-pool backward multiplies each window's gradient by the fraction of
//! the window at the maximum, so even a unique maximum of a 2x2 window gets a quarter.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var};
use fsl_layers::params::ParamStore;
use fsl_models::{Backend, Conv4, Conv4Config, Encoder};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Builds Conv-4 on the default fsl backend with `hidden_channels` filters in a fresh store of
/// `dtype`. Parameters are drawn in f64 from the seed and their names, so a float32 and a float64
/// store start from the same weights up to rounding.
fn conv4(image_size: usize, hidden_channels: usize, dtype: DType) -> (ParamStore, Conv4) {
    let store = ParamStore::new(17, dtype, &Device::Cpu);
    let config = Conv4Config {
        in_channels: 1,
        hidden_channels,
        image_size,
        backend: Backend::Fsl,
    };
    let encoder = Conv4::new(config, &store.builder().push("encoder")).unwrap();
    (store, encoder)
}

/// Two 28x28 images like Omniglot characters: a flat background with flat strokes, so that most
/// pooling windows in the first blocks hold tied maxima.
fn stroke_images(dtype: DType) -> Tensor {
    let side = 28;
    let mut values = vec![0f64; 2 * side * side];
    let mut paint = |image: usize, rows: std::ops::Range<usize>, columns: std::ops::Range<usize>, value: f64| {
        for row in rows {
            for column in columns.clone() {
                values[image * side * side + row * side + column] = value;
            }
        }
    };

    paint(0, 0..28, 0..28, 1.0);
    paint(0, 5..21, 9..12, 0.0);
    paint(0, 19..22, 3..25, 0.0);
    paint(1, 0..28, 0..28, 1.0);
    paint(1, 4..7, 4..24, 0.0);
    paint(1, 7..25, 18..21, 0.0);
    paint(1, 13..16, 6..12, 0.5);

    Tensor::from_vec(values, (2, 1, side, side), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// Counts the 2x2 windows of the first pooling whose pre-pooling values are tied by
/// construction: the window and the one-pixel ring around it (the receptive field of its four 3x3
/// convolution outputs) lie inside the image and hold one value.
fn structurally_tied_windows(images: &Tensor) -> usize {
    let (count, _, side, _) = images.dims4().unwrap();
    let values = to_vec(images);
    let mut tied = 0;
    for image in 0..count {
        let pixel = |row: usize, column: usize| values[image * side * side + row * side + column];
        for top in (2..side - 3).step_by(2) {
            for left in (2..side - 3).step_by(2) {
                let first = pixel(top - 1, left - 1);
                let flat = (top - 1..top + 3).all(|row| (left - 1..left + 3).all(|column| pixel(row, column) == first));
                tied += usize::from(flat);
            }
        }
    }
    tied
}

/// `Σ weights ⊙ embedding`, with fixed weights so that every embedding value gets its own
/// upstream gradient.
fn weighted_sum(embedding: &Tensor, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f64> = (0..embedding.elem_count())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let weights = Tensor::from_vec(values, embedding.shape(), &Device::Cpu)
        .unwrap()
        .to_dtype(embedding.dtype())
        .unwrap();
    (embedding * weights).unwrap().sum_all().unwrap()
}

fn to_vec(tensor: &Tensor) -> Vec<f64> {
    tensor
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Returns the gradient of every trainable parameter by name, in training mode.
fn parameter_gradients(store: &ParamStore, encoder: &Conv4, images: &Tensor) -> BTreeMap<String, Vec<f64>> {
    let loss = weighted_sum(&encoder.embed(images, true).unwrap(), 3);
    let gradients = loss.backward().unwrap();
    trainable_by_name(store)
        .into_iter()
        .map(|(name, var)| {
            let gradient = gradients
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name} received no gradient"));
            (name, to_vec(gradient))
        })
        .collect()
}

/// Collects the trainable parameters by name: every entry but the batch-norm running statistics.
fn trainable_by_name(store: &ParamStore) -> BTreeMap<String, Var> {
    store
        .tensors()
        .into_keys()
        .filter(|name| !name.ends_with("running_mean") && !name.ends_with("running_var"))
        .map(|name| {
            let var = store.builder().var(&name).unwrap();
            (name, var)
        })
        .collect()
}

#[test]
fn conv4_gradients_match_finite_differences_on_flat_images() {
    let (store, encoder) = conv4(28, 3, DType::F64);
    let images = stroke_images(DType::F64);
    let tied = structurally_tied_windows(&images);
    assert!(tied >= 100, "only {tied} tied pooling windows in the first block");
    let analytic = parameter_gradients(&store, &encoder, &images);
    let loss_at = || {
        weighted_sum(&encoder.embed(&images, true).unwrap(), 3)
            .to_scalar::<f64>()
            .unwrap()
    };

    // Flat regions give identical conv outputs whatever the weights, so the ties move together
    // and the loss stays differentiable in the parameters: any rule that passes each window
    // exactly its upstream gradient matches the finite differences.
    let step = 1e-6;
    let mut checked = 0;
    for (name, var) in trainable_by_name(&store) {
        let original = var.as_tensor().copy().unwrap();
        let values = to_vec(&original);
        for index in 0..values.len() {
            let mut shifted = values.clone();
            shifted[index] = values[index] + step;
            var.set(&Tensor::from_vec(shifted.clone(), original.shape(), &Device::Cpu).unwrap())
                .unwrap();
            let plus = loss_at();
            shifted[index] = values[index] - step;
            var.set(&Tensor::from_vec(shifted, original.shape(), &Device::Cpu).unwrap())
                .unwrap();
            let minus = loss_at();
            var.set(&original).unwrap();

            let numeric = (plus - minus) / (2.0 * step);
            let exact = analytic[&name][index];
            assert!(
                (numeric - exact).abs() <= 1e-6 + 1e-4 * exact.abs(),
                "{name}[{index}]: backward {exact}, finite differences {numeric}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 30 + 3 * 84 + 4 * 6, "number of parameters checked");
}

/// The default network is float32: its gradients on the same weights must agree with the float64
/// ones that the finite differences above confirm.
#[test]
fn conv4_f32_gradients_match_f64_on_flat_images() {
    let (store_f64, encoder_f64) = conv4(28, 3, DType::F64);
    let (store_f32, encoder_f32) = conv4(28, 3, DType::F32);

    let expected = parameter_gradients(&store_f64, &encoder_f64, &stroke_images(DType::F64));
    let actual = parameter_gradients(&store_f32, &encoder_f32, &stroke_images(DType::F32));

    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());

    // Convolution biases before a training-mode batch norm have a zero gradient, which float32
    // computes as rounding noise, so the absolute part of the tolerance follows the largest
    // gradient of the network.
    let scale = expected.values().flatten().fold(0f64, |m, v| m.max(v.abs()));
    for (name, wanted) in &expected {
        for (index, (a, e)) in actual[name].iter().zip(wanted).enumerate() {
            assert!(
                (a - e).abs() <= 1e-4 * scale + 1e-3 * e.abs(),
                "{name}[{index}]: float32 {a}, float64 {e} (largest |float64 gradient| {scale})"
            );
        }
    }
}

/// The tied 2x2 pooling case, through the whole encoder.
///
/// x = [[1,5,3,3],[2,4,1,0],[7,7,6,6],[7,7,6,6]] pooled 2x2 with stride 2 gives [5,3,7,6], and
/// the gradient of their sum is 1 at the first maximum of each window in row-major order:
/// [0,1,1,0, 0,0,0,0, 1,0,1,0, 0,0,0,0]. Each window of x goes to the top-left corner of one
/// 16x16 quadrant of a 32x32 image whose other pixels are -10. Conv-4 with one filter whose
/// convolutions copy their input, and batch norms that are the identity in evaluation mode,
/// then embeds the image as the four window maxima, one per quadrant.
#[test]
fn conv4_routes_tied_gradient_to_first_maximum() {
    let tied = [1f64, 5., 3., 3., 2., 4., 1., 0., 7., 7., 6., 6., 7., 7., 6., 6.];
    let expected = [0f64, 1., 1., 0., 0., 0., 0., 0., 1., 0., 1., 0., 0., 0., 0., 0.];
    let side = 32;
    let position = |index: usize| {
        let (row, column) = (index / 4, index % 4);
        (16 * (row / 2) + row % 2) * side + 16 * (column / 2) + column % 2
    };

    let (store, encoder) = conv4(side, 1, DType::F64);
    let set = |name: &str, values: &[f64]| {
        let var = store.builder().var(name).unwrap();
        var.set(&Tensor::from_slice(values, var.shape(), &Device::Cpu).unwrap())
            .unwrap();
    };
    for block in 0..4 {
        let mut identity = [0f64; 9];
        identity[4] = 1.0;
        set(&format!("encoder.block{block}.conv.weight"), &identity);
        set(&format!("encoder.block{block}.conv.bias"), &[0.0]);
        set(&format!("encoder.block{block}.bn.running_var"), &[1.0 - 1e-5]);
    }

    let mut pixels = vec![-10f64; side * side];
    for (index, value) in tied.iter().enumerate() {
        pixels[position(index)] = *value;
    }
    let image = Var::from_tensor(&Tensor::from_vec(pixels, (1, 1, side, side), &Device::Cpu).unwrap()).unwrap();

    let embedding = encoder.embed(image.as_tensor(), false).unwrap();
    let gradients = embedding.sum_all().unwrap().backward().unwrap();
    let gradient = to_vec(gradients.get(image.as_tensor()).unwrap());

    let maxima = to_vec(&embedding);
    for (actual, window_max) in maxima.iter().zip([5.0, 3.0, 7.0, 6.0]) {
        assert!((actual - window_max).abs() < 1e-9, "embedding {maxima:?}");
    }
    let routed: Vec<f64> = (0..16).map(|index| gradient[position(index)]).collect();
    for (index, (actual, wanted)) in routed.iter().zip(expected).enumerate() {
        assert!(
            (actual - wanted).abs() < 1e-12,
            "pixel {index} of x: gradient {routed:?}, expected {expected:?}"
        );
    }
    for window in 0..4 {
        let (row, column) = (2 * (window / 2), 2 * (window % 2));
        let total: f64 = [0, 1, 4, 5]
            .iter()
            .map(|offset| routed[row * 4 + column + offset])
            .sum();
        assert!(
            (total - 1.0).abs() < 1e-12,
            "window {window} passed on {total}, not its upstream 1"
        );
    }
    let background: f64 = (0..side * side)
        .filter(|pixel| !(0..16).any(|index| position(index) == *pixel))
        .map(|pixel| gradient[pixel].abs())
        .sum();
    assert_eq!(background, 0.0, "gradient reached the background pixels");
}

//! Convolution forward values and gradients against hand-computed and numpy reference values.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{assert_close, floats, reference, sizes};
use fsl_layers::ops::Conv2d;

fn values(tensor: &Tensor) -> Vec<f64> {
    tensor
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

fn var(data: &[f64], shape: &[usize], dtype: DType) -> Var {
    let tensor = Tensor::from_vec(data.to_vec(), shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    Var::from_tensor(&tensor).unwrap()
}

#[test]
fn conv_matches_numpy_reference() {
    for (index, case) in reference()["conv"].as_array().unwrap().iter().enumerate() {
        for dtype in [DType::F32, DType::F64] {
            let x = var(&floats(&case["input"]), &sizes(&case["shape"]), dtype);
            let weight = var(&floats(&case["weight"]), &sizes(&case["weight_shape"]), dtype);
            let bias = var(&floats(&case["bias"]), &[sizes(&case["weight_shape"])[0]], dtype);
            let upstream = Tensor::from_vec(floats(&case["upstream"]), sizes(&case["output_shape"]), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let stride = case["stride"].as_u64().unwrap() as usize;
            let padding = case["padding"].as_u64().unwrap() as usize;
            let conv = Conv2d::new(
                weight.as_tensor().clone(),
                Some(bias.as_tensor().clone()),
                stride,
                padding,
            )
            .unwrap();

            let output = conv.forward(x.as_tensor()).unwrap();
            let gradients = (output.clone() * &upstream)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();

            let what = format!("case {index} {dtype:?}");
            assert_eq!(output.dims(), sizes(&case["output_shape"]).as_slice(), "{what} shape");
            assert_close(
                &values(&output),
                &floats(&case["output"]),
                1e-4,
                &format!("{what} output"),
            );
            assert_close(
                &values(gradients.get(x.as_tensor()).unwrap()),
                &floats(&case["grad_input"]),
                1e-4,
                &format!("{what} grad input"),
            );
            assert_close(
                &values(gradients.get(weight.as_tensor()).unwrap()),
                &floats(&case["grad_weight"]),
                1e-4,
                &format!("{what} grad weight"),
            );
            assert_close(
                &values(gradients.get(bias.as_tensor()).unwrap()),
                &floats(&case["grad_bias"]),
                1e-4,
                &format!("{what} grad bias"),
            );
        }
    }
}

/// A weight given as a transposed view: the kernel must follow the view's strides.
#[test]
fn conv_uses_transposed_weight_view() {
    let x = var(
        &[2., 0., 1., 1., 3., 0., 0., 1., 2., 1., 1., 0., 0., 2., 1., 3., 0., 1.],
        &[1, 2, 3, 3],
        DType::F32,
    );
    let kernel = var(
        &[1., 0., 2., 1., 0., 1., 1., 0., 1., 1., 0., 1., 2., 0., 0., 1.],
        &[2, 2, 2, 2],
        DType::F32,
    );
    let conv = Conv2d::new(kernel.as_tensor().transpose(0, 1).unwrap(), None, 1, 0).unwrap();

    let y = conv.forward(x.as_tensor()).unwrap();
    let loss = y.sqr().unwrap().sum_all().unwrap();
    let gradients = loss.backward().unwrap();

    assert_eq!(values(&y), [11., 8., 4., 11., 5., 7., 3., 6.]);
    assert_eq!(loss.to_scalar::<f32>().unwrap(), 441.0);
    assert_eq!(
        values(gradients.get(x.as_tensor()).unwrap()),
        [
            22., 26., 14., 62., 96., 28., 22., 64., 22., 42., 66., 16., 20., 86., 52., 0., 14., 34.
        ]
    );
    assert_eq!(
        values(gradients.get(kernel.as_tensor()).unwrap()),
        [
            118., 40., 92., 118., 62., 32., 64., 60., 82., 60., 56., 82., 48., 34., 46., 46.
        ]
    );
}

/// A weight taken with `narrow` starts at a non-zero storage offset.
#[test]
fn conv_uses_narrowed_weight_offset() {
    let full = var(&[1., -1., 2., 0., 0., 3., 1., 1.], &[4, 2, 1, 1], DType::F32);
    let x = var(&[1., 2., 0., 1., 2., 0., 1., 1.], &[1, 2, 2, 2], DType::F32);
    let conv = Conv2d::new(full.as_tensor().narrow(0, 2, 2).unwrap(), None, 1, 0).unwrap();

    let y = conv.forward(x.as_tensor()).unwrap();
    let loss = y.sqr().unwrap().sum_all().unwrap();
    let gradients = loss.backward().unwrap();

    assert_eq!(values(&y), [6., 0., 3., 3., 3., 2., 1., 2.]);
    assert_eq!(loss.to_scalar::<f32>().unwrap(), 72.0);
    assert_eq!(
        values(gradients.get(x.as_tensor()).unwrap()),
        [6., 4., 2., 4., 42., 4., 20., 22.]
    );
    assert_eq!(
        values(gradients.get(full.as_tensor()).unwrap()),
        [0., 0., 0., 0., 18., 36., 18., 18.]
    );
}

#[test]
fn conv_rejects_channel_mismatch() {
    let weight = Tensor::zeros((4, 3, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let conv = Conv2d::new(weight, None, 1, 1).unwrap();
    let x = Tensor::zeros((1, 2, 5, 5), DType::F32, &Device::Cpu).unwrap();

    let error = conv.forward(&x).unwrap_err();

    assert!(error.to_string().contains("2 channels"), "{error}");
    assert!(error.to_string().contains("expects 3"), "{error}");
}

/// The weight gradient sums images in fixed groups, so thread count and scheduling never change
/// a single bit of it.
#[test]
fn conv_gradient_independent_of_threads() {
    let batch = 37;
    let input: Vec<f64> = (0..batch * 3 * 9 * 9)
        .map(|i| ((i * 7919) % 1000) as f64 / 997.0 - 0.5)
        .collect();
    let weights: Vec<f64> = (0..8 * 3 * 3 * 3)
        .map(|i| ((i * 104_729) % 1000) as f64 / 991.0 - 0.5)
        .collect();

    let gradients = |threads: usize| -> (Vec<f32>, Vec<f32>) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let x = Tensor::from_vec(input.clone(), (batch, 3, 9, 9), &Device::Cpu)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap();
            let weight = var(&weights, &[8, 3, 3, 3], DType::F32);
            let bias = Var::zeros(8, DType::F32, &Device::Cpu).unwrap();
            let conv = Conv2d::new(weight.as_tensor().clone(), Some(bias.as_tensor().clone()), 1, 1).unwrap();

            let loss = conv.forward(&x).unwrap().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (
                flat(grads.get(weight.as_tensor()).unwrap()),
                flat(grads.get(bias.as_tensor()).unwrap()),
            )
        })
    };

    let reference = gradients(1);
    for threads in [2, 3, 4] {
        for repeat in 0..3 {
            let (weight, bias) = gradients(threads);
            assert_eq!(
                weight, reference.0,
                "{threads} threads, repeat {repeat}: weight gradient"
            );
            assert_eq!(bias, reference.1, "{threads} threads, repeat {repeat}: bias gradient");
        }
    }
}

//! Centroids, the prototypical loss and its gradient against independently computed values.

mod common;

use candle_core::{Device, Tensor, Var};
use common::{assert_close, floats, reference, sizes};
use fsl_layers::{Error, accuracy, centroids, one_hot, prototypical_loss, squared_l2};

fn labels(value: &serde_json::Value) -> Vec<u32> {
    sizes(value).iter().map(|&v| v as u32).collect()
}

fn to_f64(tensor: &Tensor) -> Vec<f64> {
    tensor
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect()
}

#[test]
fn prototypical_loss_matches_numpy() {
    let case = &reference()["prototypical"];
    let device = Device::Cpu;
    let support: Vec<f32> = floats(&case["support"]).iter().map(|&v| v as f32).collect();
    let queries: Vec<f32> = floats(&case["queries"]).iter().map(|&v| v as f32).collect();
    let support = Tensor::from_vec(support, (6, 3), &device).unwrap();
    let queries = Var::from_tensor(&Tensor::from_vec(queries, (5, 3), &device).unwrap()).unwrap();
    let query_labels = labels(&case["query_labels"]);

    let prototypes = centroids(&support, &labels(&case["labels"]), 3).unwrap();
    let distances = squared_l2(queries.as_tensor(), &prototypes).unwrap();
    let loss = prototypical_loss(&distances, &query_labels).unwrap();
    let gradients = loss.backward().unwrap();
    let grad_queries = gradients.get(queries.as_tensor()).expect("queries receive a gradient");

    assert_close(&to_f64(&prototypes), &floats(&case["prototypes"]), 1e-5, "prototypes");
    assert_close(&to_f64(&distances), &floats(&case["distances"]), 1e-4, "distances");
    assert_close(
        &[loss.to_scalar::<f32>().unwrap() as f64],
        &[case["loss"].as_f64().unwrap()],
        1e-5,
        "loss",
    );
    assert_close(
        &to_f64(grad_queries),
        &floats(&case["grad_queries"]),
        1e-4,
        "grad_queries",
    );
}

#[test]
fn loss_is_finite_for_huge_distances() {
    let distances = Tensor::new(&[[1e30f32, 0.0], [0.0, 3e38]], &Device::Cpu).unwrap();

    let loss = prototypical_loss(&distances, &[0, 0])
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();

    assert!(loss.is_finite(), "loss {loss}");
    assert!(loss > 1e29, "loss {loss}");
}

#[test]
fn loss_rejects_out_of_range_label() {
    let distances = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();

    let error = prototypical_loss(&distances, &[0, 3]).unwrap_err();

    assert!(
        matches!(
            error,
            Error::LabelOutOfRange {
                label: 3,
                position: 1,
                n_classes: 3
            }
        ),
        "{error:?}"
    );
}

#[test]
fn accuracy_counts_best_columns() {
    let distances = Tensor::new(
        &[[0.1f32, 2.0, 3.0], [4.0, 0.5, 0.2], [1.0, 0.0, 9.0], [7.0, 8.0, 0.0]],
        &Device::Cpu,
    )
    .unwrap();

    assert_eq!(accuracy(&distances, &[0, 1, 1, 2], true).unwrap(), 0.75);
    assert_eq!(accuracy(&distances, &[2, 0, 2, 0], false).unwrap(), 0.75);
}

#[test]
fn one_hot_sums_and_range_check() {
    let matrix = one_hot(&[0, 2, 2, 4], 5, candle_core::DType::F32, &Device::Cpu).unwrap();
    let column_sums = matrix.sum(0).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(column_sums, [1.0, 0.0, 2.0, 0.0, 1.0]);

    let error = one_hot(&[0, 5], 5, candle_core::DType::F32, &Device::Cpu).unwrap_err();
    assert!(error.to_string().contains("label 5"), "{error}");
}

#[test]
fn episode_without_support_for_class_rejected() {
    let images = Tensor::zeros((2, 1, 4, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
    let episode = fsl_layers::EpisodeBatch {
        support: images.clone(),
        support_labels: vec![0, 0],
        query: images,
        query_labels: vec![0, 1],
        n_way: 2,
    };

    let error = episode.validate().unwrap_err();

    assert!(error.to_string().contains("class 1"), "{error}");
}

#[test]
fn loss_rejects_episode_without_queries() {
    let distances = Tensor::zeros((0, 3), candle_core::DType::F32, &Device::Cpu).unwrap();

    let error = prototypical_loss(&distances, &[]).unwrap_err();

    assert!(error.to_string().contains("q_query"), "{error}");
}

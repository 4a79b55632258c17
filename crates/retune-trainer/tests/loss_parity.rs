//! Loss values and gradients against sentence-transformers 6.2
//! (`fixtures/reference/st_loss_cases.json`, written by `scripts/make-reference.sh`, computed in float64 on fixed embeddings).
//!
//! Tolerances: values within 1e-5 relative (f32 arithmetic against f64); gradients within
//! 2e-5 absolute plus 1e-4 relative of each element, the noise of f32 normalizations and
//! square roots feeding gradients of magnitude up to ~5.

use crate::common;

use burn::tensor::{Tensor, TensorData};
use common::fixture;
use retune_trainer::backend::{CpuAutodiff, cpu_device};
use retune_trainer::loss::{
    TripletDistance, batch_all, batch_hard, batch_semi_hard, mnrl, triplet,
};
use serde_json::Value;

type A = CpuAutodiff;

fn matrix(v: &Value) -> (Vec<f32>, [usize; 2]) {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let data = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    (data, [rows.len(), cols])
}

fn run_case(case: &Value) -> (f64, Vec<Vec<f32>>) {
    let dev = cpu_device();
    let inputs: Vec<Tensor<A, 2>> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let (data, shape) = matrix(m);
            Tensor::<A, 2>::from_data(TensorData::new(data, shape), &dev).require_grad()
        })
        .collect();
    let p = &case["params"];
    let labels: Vec<i64> = case["labels"]
        .as_array()
        .map(|l| l.iter().map(|x| x.as_i64().unwrap()).collect())
        .unwrap_or_default();
    let margin = p["margin"].as_f64().unwrap_or(0.0);
    let loss = match case["loss"].as_str().unwrap() {
        "mnrl" => mnrl(
            inputs[0].clone(),
            inputs[1].clone(),
            &inputs[2..],
            p["scale"].as_f64().unwrap(),
            false,
        ),
        "triplet" => {
            let kind = match p["distance"].as_str().unwrap() {
                "euclidean" => TripletDistance::Euclidean,
                _ => TripletDistance::Cosine,
            };
            triplet(
                inputs[0].clone(),
                inputs[1].clone(),
                inputs[2].clone(),
                kind,
                margin,
            )
        }
        "batch_semi_hard_triplet" => batch_semi_hard(inputs[0].clone(), &labels, margin),
        "batch_hard_triplet" => batch_hard(inputs[0].clone(), &labels, margin),
        "batch_all_triplet" => batch_all(inputs[0].clone(), &labels, margin),
        other => panic!("unknown loss {other}"),
    };
    let value: f32 = loss.clone().into_data().to_vec::<f32>().unwrap()[0];
    let grads = loss.backward();
    let g = inputs
        .iter()
        .map(|x| {
            x.grad(&grads)
                .map(|t| t.into_data().to_vec::<f32>().unwrap())
                .unwrap_or_default()
        })
        .collect();
    (f64::from(value), g)
}

#[test]
fn every_loss_case_matches_values_and_gradients() {
    let refs: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("st_loss_cases.json")).unwrap())
            .unwrap();
    let cases = refs["cases"].as_array().unwrap();
    assert!(cases.len() >= 18);
    for (i, case) in cases.iter().enumerate() {
        let name = format!("case {i} {} {}", case["loss"], case["params"]);
        let (value, grads) = run_case(case);
        let want = case["value"].as_f64().unwrap();
        assert!(
            (value - want).abs() <= 1e-5 * want.abs().max(1e-3),
            "{name}: value {value} vs {want}"
        );
        for (k, (g, w)) in grads
            .iter()
            .zip(case["grads"].as_array().unwrap())
            .enumerate()
        {
            let (w, _) = matrix(w);
            assert_eq!(g.len(), w.len(), "{name}: gradient {k} shape");
            for (j, (a, b)) in g.iter().zip(&w).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-5 + 1e-4 * b.abs(),
                    "{name}: d/d input {k} [{j}]: {a} vs {b}"
                );
            }
        }
    }
}

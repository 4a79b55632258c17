//! Sign tests: one small gradient step on each loss lowers it (sentence-transformers once
//! shipped TripletLoss with the sign inverted; a wrong sign pushes the wrong way and this fails).

use burn::tensor::{Distribution, Tensor};
use retune_trainer::backend::{CpuAutodiff, cpu_device};
use retune_trainer::loss::{
    TripletDistance, batch_all, batch_hard, batch_semi_hard, mnrl, mnrl_with_targets, triplet,
};

type A = CpuAutodiff;

fn step_lowers(name: &str, n: usize, f: &dyn Fn(&[Tensor<A, 2>]) -> Tensor<A, 1>) {
    let dev = cpu_device();
    <A as burn::tensor::backend::Backend>::seed(&dev, 7);
    let xs: Vec<Tensor<A, 2>> = (0..n)
        .map(|_| Tensor::random([8, 16], Distribution::Normal(0.0, 1.0), &dev).require_grad())
        .collect();
    let loss = f(&xs);
    let before: f32 = loss.clone().into_scalar();
    let grads = loss.backward();
    let stepped: Vec<Tensor<A, 2>> = xs
        .iter()
        .map(|x| {
            let g = Tensor::<A, 2>::from_inner(x.grad(&grads).expect("gradient"));
            (x.clone().detach() - g * 1e-2).detach()
        })
        .collect();
    let after: f32 = f(&stepped).into_scalar();
    assert!(
        after < before,
        "{name}: {before} -> {after} after a gradient step"
    );
}

#[test]
fn a_gradient_step_lowers_every_loss() {
    let labels = [0i64, 1, 2, 3, 0, 1, 2, 3];
    step_lowers("mnrl", 3, &|x| {
        mnrl(x[0].clone(), x[1].clone(), &x[2..], 20.0, false)
    });
    step_lowers("mnrl symmetric", 2, &|x| {
        mnrl(x[0].clone(), x[1].clone(), &[], 20.0, true)
    });
    step_lowers("mnrl with shared targets, symmetric", 2, &|x| {
        mnrl_with_targets(
            x[0].clone(),
            x[1].clone(),
            &labels.map(|l| l as usize),
            20.0,
            true,
        )
    });
    step_lowers("triplet euclidean", 3, &|x| {
        triplet(
            x[0].clone(),
            x[1].clone(),
            x[2].clone(),
            TripletDistance::Euclidean,
            5.0,
        )
    });
    step_lowers("triplet cosine", 3, &|x| {
        triplet(
            x[0].clone(),
            x[1].clone(),
            x[2].clone(),
            TripletDistance::Cosine,
            0.5,
        )
    });
    step_lowers("batch hard", 1, &|x| batch_hard(x[0].clone(), &labels, 5.0));
    step_lowers("batch semi-hard", 1, &|x| {
        batch_semi_hard(x[0].clone(), &labels, 5.0)
    });
    step_lowers("batch all", 1, &|x| batch_all(x[0].clone(), &labels, 5.0));
}

#[test]
fn symmetric_mnrl_averages_both_directions() {
    let dev = cpu_device();
    let a: Tensor<A, 2> = Tensor::random([4, 8], Distribution::Normal(0.0, 1.0), &dev);
    let p: Tensor<A, 2> = Tensor::random([4, 8], Distribution::Normal(0.0, 1.0), &dev);
    let fwd: f32 = mnrl(a.clone(), p.clone(), &[], 20.0, false).into_scalar();
    let bwd: f32 = mnrl(p.clone(), a.clone(), &[], 20.0, false).into_scalar();
    let sym: f32 = mnrl(a, p, &[], 20.0, true).into_scalar();
    assert!((sym - (fwd + bwd) / 2.0).abs() < 1e-5);
}

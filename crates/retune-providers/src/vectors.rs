//! Checks shared by the hosted embedders: the length the caller was promised, then unit norm.

use crate::error::ProviderError;

/// `v` scaled to unit length, after checking it has `dimension` entries.
pub(crate) fn unit_vector(
    url: &str,
    mut v: Vec<f32>,
    dimension: usize,
) -> Result<Vec<f32>, ProviderError> {
    if v.len() != dimension {
        return Err(ProviderError::Inconsistent {
            url: url.to_string(),
            problem: format!("embedding of length {}, expected {dimension}", v.len()),
        });
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    Ok(v)
}

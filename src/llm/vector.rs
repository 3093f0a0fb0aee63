//! Vector helpers shared by the embedding cache and memory search: the BLOB encoding
//! (little-endian f32, DESIGN.md §4), cosine similarity and top-k selection.

use std::cmp::Ordering;

use crate::error::{AppError, AppResult};

/// `dim` little-endian f32s, the on-disk form of every stored vector.
pub fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inverse of [`encode`]. A length that is not a multiple of 4 means a damaged row.
pub fn decode(blob: &[u8]) -> AppResult<Vec<f32>> {
    if !blob.len().is_multiple_of(4) {
        return Err(AppError::internal(format!("vector blob of {} bytes is not a whole number of f32", blob.len())));
    }
    Ok(blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

pub fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Scales `v` to unit length in place; a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let n = norm(v);
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Cosine similarity in [-1, 1]; 0 when either vector is zero or the lengths differ.
/// Full cosine rather than a dot product: client-supplied vectors need not be normalized.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (na * nb)
}

/// The `k` best `(item, score)` pairs, highest score first; ties keep input order.
pub fn top_k<T>(mut scored: Vec<(T, f32)>, k: usize) -> Vec<(T, f32)> {
    scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_as_little_endian_f32() {
        let v = vec![1.0f32, -0.5, 0.0, f32::MAX];
        let blob = encode(&v);
        assert_eq!(blob.len(), 16);
        assert_eq!(&blob[0..4], &1.0f32.to_le_bytes());
        assert_eq!(decode(&blob).unwrap(), v);
        assert_eq!(decode(&blob[..5]).unwrap_err().status, 500);
        assert!(decode(&[]).unwrap().is_empty());
    }

    #[test]
    fn cosine_handles_scale_zero_and_mismatch() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-3.0, 0.0]) + 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn top_k_sorts_descending_and_truncates() {
        let got = top_k(vec![("a", 0.1), ("b", 0.9), ("c", 0.5), ("d", 0.9)], 3);
        assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), ["b", "d", "c"]);
        assert!(top_k(Vec::<((), f32)>::new(), 5).is_empty());
    }

    #[test]
    fn normalize_gives_unit_length_and_keeps_zero() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert!((norm(&v) - 1.0).abs() < 1e-6);
        let mut z = vec![0.0; 3];
        normalize(&mut z);
        assert_eq!(z, vec![0.0; 3]);
    }
}

//! MPNet's relative position bias on the fused path: the `[buckets, heads]` table spread out
//! per head and key-minus-query offset, so an attention row reads its bias as one slice, and
//! the gradient of those offsets folded back into the table.

use crate::arch::relative_bucket;

/// The bias of every (head, key - query offset) for sequences up to `span` tokens.
#[derive(Debug, Clone)]
pub(crate) struct PositionBias {
    span: usize,
    heads: usize,
    /// `[heads][2 * span - 1]`: offset `j - i` at index `j - i + span - 1`.
    values: Vec<f32>,
}

impl PositionBias {
    /// Spreads `table` (`[buckets, heads]`, row-major) over offsets of sequences up to `span`.
    pub(crate) fn new(table: &[f32], heads: usize, span: usize) -> Self {
        let buckets = table.len() / heads;
        let width = 2 * span.max(1) - 1;
        let mut values = vec![0.0f32; heads * width];
        for at in 0..width {
            let bucket = relative_bucket(at as i64 - (span as i64 - 1), buckets);
            for head in 0..heads {
                values[head * width + at] = table[bucket * heads + head];
            }
        }
        Self {
            span: span.max(1),
            heads,
            values,
        }
    }

    /// Number of bias values (`heads * (2 * span - 1)`), the size of a gradient buffer.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Where query row `i` of `head` starts: entry `j` of the slice there is key `j`'s bias.
    pub(crate) fn row_start(&self, head: usize, i: usize) -> usize {
        head * (2 * self.span - 1) + self.span - 1 - i
    }

    /// The bias of query row `i`'s keys `0..len` in `head`.
    pub(crate) fn row(&self, head: usize, i: usize, len: usize) -> &[f32] {
        let at = self.row_start(head, i);
        &self.values[at..at + len]
    }

    /// The gradient of the `[buckets, heads]` table from the gradient of every offset.
    pub(crate) fn table_grad(&self, d_offsets: &[f32], buckets: usize) -> Vec<f32> {
        let width = 2 * self.span - 1;
        let mut out = vec![0.0f32; buckets * self.heads];
        for at in 0..width {
            let bucket = relative_bucket(at as i64 - (self.span as i64 - 1), buckets);
            for head in 0..self.heads {
                out[bucket * self.heads + head] += d_offsets[head * width + at];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_the_bucket_of_each_offset_and_gradients_fold_back() {
        // 32 buckets, 2 heads: bucket b of head h holds 100 * b + h.
        let table: Vec<f32> = (0..32)
            .flat_map(|b| (0..2).map(move |h| (100 * b + h) as f32))
            .collect();
        let bias = PositionBias::new(&table, 2, 20);
        for (i, j) in [(0usize, 0usize), (3, 0), (0, 19), (19, 0), (5, 17)] {
            let want = 100 * relative_bucket(j as i64 - i as i64, 32) + 1;
            assert_eq!(bias.row(1, i, 20)[j], want as f32, "({i}, {j})");
        }
        let mut d = vec![0.0f32; bias.len()];
        d[bias.row_start(0, 2) + 2] += 1.0; // offset 0, head 0
        d[bias.row_start(0, 3) + 3] += 0.5; // offset 0 again (the same entry)
        d[bias.row_start(1, 0) + 19] = 2.0; // offset +19, head 1
        let g = bias.table_grad(&d, 32);
        assert_eq!(g[0], 1.5);
        assert_eq!(g[relative_bucket(19, 32) * 2 + 1], 2.0);
        assert_eq!(g.iter().sum::<f32>(), 3.5);
    }
}

//! Row-chunked, parallel encoding with ordered output: rows are cut into
//! chunks, a few chunks are encoded at a time on the rayon pool, and their
//! bytes are handed to the writer in row order, so the file's bytes do not
//! depend on the number of threads. Encoders work column by column within a
//! chunk (the type dispatch happens once per column, not once per cell).

use rayon::prelude::*;

/// Rows per chunk.
pub(crate) const CHUNK: usize = 16 * 1024;

/// Encodes `rows` rows in chunks with `encode(start, end)` and passes each
/// chunk's result to `sink` in row order.
pub(crate) fn for_each_chunk<T, E>(
    rows: usize,
    encode: impl Fn(usize, usize) -> T + Sync,
    mut sink: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
{
    let starts: Vec<usize> = (0..rows).step_by(CHUNK).collect();
    let in_flight = 2 * rayon::current_num_threads().max(1);
    for group in starts.chunks(in_flight) {
        let done: Vec<T> = group.par_iter().map(|&s| encode(s, (s + CHUNK).min(rows))).collect();
        for t in done {
            sink(t)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_arrive_in_row_order_and_cover_every_row() {
        let rows = 3 * CHUNK + 5;
        let mut seen = Vec::new();
        for_each_chunk(
            rows,
            |s, e| (s, e),
            |c| -> Result<(), ()> {
                seen.push(c);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen.first(), Some(&(0, CHUNK)));
        assert_eq!(seen.last(), Some(&(3 * CHUNK, rows)));
        assert!(seen.windows(2).all(|w| w[0].1 == w[1].0));
    }
}

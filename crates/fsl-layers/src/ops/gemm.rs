//! A safe, bounds-checked front end to the `gemm` crate's single-threaded matrix multiply.

use candle_core::WithDType;

/// A read-only matrix view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatrixView<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a, T> MatrixView<'a, T> {
    /// Views `data` as a contiguous row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Views a contiguous row-major `rows x cols` matrix as its `cols x rows` transpose.
    pub fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows: cols,
            cols: rows,
            row_stride: 1,
            col_stride: cols,
        }
    }

    /// Returns whether every element of the view lies inside `data`.
    fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
        last < self.data.len()
    }
}

/// Computes `out = a · b` (or `out += a · b` with `accumulate`), where `out` is a row-major
/// `a.rows x b.cols` matrix, on the calling thread.
pub(crate) fn matmul<T: WithDType>(a: MatrixView<'_, T>, b: MatrixView<'_, T>, out: &mut [T], accumulate: bool) {
    matmul_scaled(a, b, out, accumulate, T::from_f64(1.0), gemm::Parallelism::None);
}

/// Computes `out = scale · a · b` (or `out += scale · a · b` with `accumulate`), where `out` is a
/// row-major `a.rows x b.cols` matrix, with the given parallelism.
///
/// # Panics
///
/// Panics when the shapes disagree or a view reaches outside its slice. Callers build the views
/// from tensor shapes they have already checked, so a panic here is a bug in this crate.
pub(crate) fn matmul_scaled<T: WithDType>(
    a: MatrixView<'_, T>,
    b: MatrixView<'_, T>,
    out: &mut [T],
    accumulate: bool,
    scale: T,
    parallelism: gemm::Parallelism,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions {k} and {} differ", b.rows);
    assert!(
        a.in_bounds() && b.in_bounds(),
        "matmul: a view reaches outside its data"
    );
    assert!(
        out.len() >= m * n,
        "matmul: output of {} elements for {m}x{n}",
        out.len()
    );
    if m == 0 || n == 0 {
        return;
    }

    let unit = T::from_f64(1.0);
    let zero = T::from_f64(0.0);
    // SAFETY: the assertions above prove that every element the kernel reads, a[i, l] at
    // i * row_stride + l * col_stride for i < m and l < k (likewise for b), lies inside its slice,
    // and every element it writes, out[i, j] at i * n + j, lies inside `out`. The slices are
    // borrowed for the whole call, `out` mutably, so nothing else reads or writes them meanwhile.
    // `gemm` computes out := alpha · out + beta · a · b and reads `out` only when `read_dst`.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            if accumulate { unit } else { zero },
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

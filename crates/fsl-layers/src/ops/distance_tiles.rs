//! f32 squared distances on x86-64 CPUs with AVX-512: centred, packed panels and a 6 x 64
//! register tile whose last pass writes finished distances.
//!
//! On 1024 x 1024 rows of 1600 values, the `gemm` crate's product alone took 10.8-11.5 ms on the
//! benchmark machine, and the centring, the norms and the clamping took 5 ms more in separate
//! passes over memory. Here, packing the inputs for the tile is also where they are centred and
//! where their norms are summed, and the tile adds the norms and clamps in registers before its
//! one store of distances: 9.9 ms in all (docs/benchmarks.md).
//!
//! Layout: a set of rows is packed in panels of `width` rows, 6 for `a` and 64 for `b`. The last
//! panel is padded with zero rows. A panel is cut into slabs of at most [`MAX_DEPTH`]
//! coordinates, one per pass of the tile. A slab of `b` is stored coordinate-major, so the tile
//! loads one coordinate of its 64 rows as four vectors. A slab of `a` is stored row-major,
//! because the tile broadcasts its values one at a time, from any address. So packing `a` is a
//! plain copy, and only `b` needs the transposition that gathers do.
//!
//! Work: all of `a` is packed first. Then each task packs one panel of `b` itself and runs it
//! against a block of `a`'s rows, so that the panel stays in the L2 cache of the core that uses
//! it. The tasks write disjoint tiles of the one output matrix.

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_loadu_si512, _mm512_mask_i32gather_ps,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_maskz_sub_ps, _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps,
    _mm512_reduce_add_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
};

use rayon::prelude::*;

/// Rows of `a` per tile: each coordinate of them is broadcast against the vectors of `b`.
const TILE_ROWS: usize = 6;

/// f32 lanes of an AVX-512 vector.
const LANES: usize = 16;

/// Rows of `b` per tile: four vectors, so that a tile keeps 6 x 4 = 24 accumulators in registers
/// and eight of the 32 vector registers remain for the loaded values.
const TILE_COLUMNS: usize = 4 * LANES;

/// Maximum number of coordinates per pass over a tile. A 2048 x 64 slab of `b` (512 KiB) stays in
/// the 2 MiB L2 cache while every tile of a task's rows reads it, and each tile loads and stores
/// its partial sums once per pass. On 1024 x 1024 rows of 1600 values in a scratch benchmark, one
/// pass was 1-2% faster than two passes of 800. With the tile's loop unrolled, two passes of 800
/// were 8-10% faster than thirteen of 128, whose `b` slabs fit the L1 cache.
const MAX_DEPTH: usize = 2048;

/// Maximum row length of the packing, because gathers address the sixteen rows of a group with
/// i32 offsets up to `15 * dim`.
const MAX_DIM: usize = i32::MAX as usize / LANES;

/// Largest packing storage, in f32 values, kept for the next call on the same thread: 64 MiB.
const MAX_KEPT_SCRATCH: usize = 16 << 20;

thread_local! {
    /// Packing storage of the last call on this thread for `a`, and of the last task on this
    /// thread for its panel of `b`.
    ///
    /// A fresh multi-megabyte allocation on every call has the kernel clear every page as it is
    /// first written. That took about 13% of the profile samples of the 1024 x 1024 x 1600
    /// benchmark.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Proof that the CPU runs AVX-512F instructions: only [`Avx512::for_rows_of`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// Returns the proof when this CPU has AVX-512F and the tile handles rows of `dim` values
    /// (at most [`MAX_DIM`]).
    pub(crate) fn for_rows_of(dim: usize) -> Option<Self> {
        (std::arch::is_x86_feature_detected!("avx512f") && dim <= MAX_DIM).then_some(Self(()))
    }
}

/// Computes the `rows x columns` squared distances between the rows of `a` and `b`, after
/// subtracting `centre` from both, and clamps them at 0.
pub(crate) fn squared_distances(
    cpu: Avx512,
    a: &[f32],
    b: &[f32],
    rows: usize,
    columns: usize,
    dim: usize,
    centre: &[f32],
) -> Vec<f32> {
    // Multiplying by 1 is exact, so the distances are those of the centred rows.
    let a_scales = vec![1f32; rows];
    let b_scales = vec![1f32; columns];
    let inputs = [(a, centre, a_scales.as_slice()), (b, centre, b_scales.as_slice())];
    products(cpu, inputs, rows, columns, dim, Finish::SquaredDistance)
}

/// Computes the `rows x columns` products of the rows of `a` and `b` scaled by `a_scales` and
/// `b_scales` (one factor per row), clamped to `[-1, 1]`: cosine similarities, when the factors
/// are the rows' inverse norms.
pub(crate) fn clamped_products(
    cpu: Avx512,
    a: &[f32],
    b: &[f32],
    dim: usize,
    a_scales: &[f32],
    b_scales: &[f32],
) -> Vec<f32> {
    let zeros = vec![0f32; dim];
    let inputs = [(a, zeros.as_slice(), a_scales), (b, zeros.as_slice(), b_scales)];
    products(cpu, inputs, a_scales.len(), b_scales.len(), dim, Finish::ClampedProduct)
}

/// One set of rows for [`products`]: the row-major values, the centre subtracted from every row
/// and the factor of every row, applied after the centre.
type Rows<'a> = (&'a [f32], &'a [f32], &'a [f32]);

/// Computes the `rows x columns` products of the transformed rows of `a` and `b` and finishes
/// them as `finish` describes.
fn products(cpu: Avx512, [a, b]: [Rows<'_>; 2], rows: usize, columns: usize, dim: usize, finish: Finish) -> Vec<f32> {
    let (a, a_centre, a_scales) = a;
    let (b, b_centre, b_scales) = b;
    assert!(
        a.len() == rows * dim
            && b.len() == columns * dim
            && a_centre.len() == dim
            && b_centre.len() == dim
            && a_scales.len() == rows
            && b_scales.len() == columns
            && dim <= MAX_DIM,
        "row products: {} and {} values for {rows} and {columns} rows of {dim}",
        a.len(),
        b.len()
    );

    if rows == 0 || columns == 0 || dim == 0 {
        // Zero-length rows are all at distance 0 from each other, and their products are 0.
        return vec![0f32; rows * columns];
    }

    // The tiles write every output value before any read, so the output is not cleared first:
    // clearing 4 MiB took a third of the time of 1024 x 1024 cosine similarities of 64 values.
    let mut output: Vec<f32> = Vec::with_capacity(rows * columns);
    let values = &mut output.spare_capacity_mut()[..rows * columns];

    let block_depth = block_depth(dim);
    let a_storage = SCRATCH.with_borrow_mut(|(a_storage, _)| std::mem::take(a_storage));
    let a_panels = Panels::pack::<TILE_ROWS>(
        cpu,
        (a, a_centre, a_scales),
        dim,
        block_depth,
        Layout::BlockMajor,
        a_storage,
    );

    // A task packs one panel of `b` and computes its strip of the output for a block of `a`'s
    // rows. Its `b` panel then stays in L2 for all those rows, where packing all of `b` first had
    // the tiles read each panel back from L3: 6-7% faster on 1024 x 1024 rows of 1600 values in a
    // scratch benchmark. With few panels of `b`, row blocks give every thread work, at the cost of
    // packing a panel once per block.
    let column_panels = columns.div_ceil(TILE_COLUMNS);
    let row_blocks = (2 * rayon::current_num_threads())
        .div_ceil(column_panels)
        .min(a_panels.count);
    let panels_per_block = a_panels.count.div_ceil(row_blocks);
    let shared = SharedOutput::new(values, rows, columns);
    (0..column_panels * row_blocks).into_par_iter().for_each(|task| {
        let first_column = task / row_blocks * TILE_COLUMNS;
        let panel_columns = first_column..(first_column + TILE_COLUMNS).min(columns);
        let first_panel = task % row_blocks * panels_per_block;
        let a_range = first_panel..(first_panel + panels_per_block).min(a_panels.count);

        let b_storage = SCRATCH.with_borrow_mut(|(_, b_storage)| std::mem::take(b_storage));
        let b_panel = Panels::pack::<TILE_COLUMNS>(
            cpu,
            (
                &b[panel_columns.start * dim..panel_columns.end * dim],
                b_centre,
                &b_scales[panel_columns.clone()],
            ),
            dim,
            block_depth,
            Layout::PanelMajor,
            b_storage,
        );

        fill_strip(cpu, &a_panels, a_range, &b_panel, first_column, &shared, dim, finish);

        if b_panel.storage.len() <= MAX_KEPT_SCRATCH {
            SCRATCH.with_borrow_mut(|(_, b_storage)| *b_storage = b_panel.storage);
        }
    });

    // SAFETY: every tile's first pass stores all of its values, and the tiles cover every row
    // of `a` and every row of `b`, so all `rows * columns` values are initialised.
    #[allow(unsafe_code)]
    unsafe {
        output.set_len(rows * columns)
    };

    if a_panels.storage.len() <= MAX_KEPT_SCRATCH {
        SCRATCH.with_borrow_mut(|(a_storage, _)| *a_storage = a_panels.storage);
    }
    output
}

/// The output matrix, which all tasks write at once, each only the tiles of its own pair of a
/// block of `a`'s rows and a panel of `b`'s rows.
struct SharedOutput<'a> {
    /// The first of `rows x columns` values.
    values: *mut f32,
    rows: usize,
    columns: usize,
    _borrow: std::marker::PhantomData<&'a mut [std::mem::MaybeUninit<f32>]>,
}

// SAFETY: the pointer stays valid while the borrow in `_borrow` lasts, and the tasks that share
// it never write the same value: each writes only the tiles of its own rows and columns.
#[allow(unsafe_code)]
unsafe impl Sync for SharedOutput<'_> {}

impl<'a> SharedOutput<'a> {
    fn new(values: &'a mut [std::mem::MaybeUninit<f32>], rows: usize, columns: usize) -> Self {
        assert_eq!(values.len(), rows * columns, "output of {rows} x {columns} values");
        Self {
            values: values.as_mut_ptr().cast(),
            rows,
            columns,
            _borrow: std::marker::PhantomData,
        }
    }

    /// Returns the tile of `rows x columns` values whose first value is at `first_row`,
    /// `first_column`.
    fn tile(&self, first_row: usize, rows: usize, first_column: usize, columns: usize) -> Tile {
        assert!(
            first_row + rows <= self.rows && first_column + columns <= self.columns,
            "tile of {rows} x {columns} values at ({first_row}, {first_column}) outside {} x {} values",
            self.rows,
            self.columns
        );
        let first = first_row * self.columns + first_column;
        Tile {
            out: self.values.wrapping_add(first),
            available: self.rows * self.columns - first,
            stride: self.columns,
            rows,
            columns,
        }
    }
}

/// Returns the coordinates per pass for rows of `dim` values: equal passes of at most
/// [`MAX_DEPTH`].
fn block_depth(dim: usize) -> usize {
    let passes = dim.div_ceil(MAX_DEPTH).max(1);
    dim.div_ceil(passes)
}

/// Rows packed for the tile; see the module documentation.
struct Panels {
    /// Backing storage; `values` starts at its first 64-byte boundary.
    storage: Vec<f32>,

    /// Index in `storage` of the first packed value.
    start: usize,

    /// Rows per panel.
    width: usize,

    /// Coordinates per slab; the last slab of a row may be shorter.
    block_depth: usize,

    /// The order of the slabs in `storage`, and of the values within a slab.
    layout: Layout,

    /// Number of panels.
    count: usize,

    /// Squared norm of every transformed row, zero for padding rows.
    norms: Vec<f32>,
}

/// The order of the slabs in [`Panels`] and of the values within a slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// For `b`: each panel's `dim` coordinates are contiguous, so the slabs of one panel follow
    /// each other. A slab is coordinate-major.
    PanelMajor,

    /// For `a`: each block of `block_depth` coordinates is contiguous, so the slabs of one block
    /// follow each other. A slab is row-major.
    BlockMajor,
}

impl Panels {
    /// Packs the transformed rows of `rows` (values, centre and row factors, see [`Rows`]) into
    /// panels of `WIDTH` rows cut into slabs of `block_depth` coordinates, in `storage` (grown as
    /// needed). Also sums the squared norms of the transformed rows.
    fn pack<const WIDTH: usize>(
        _cpu: Avx512,
        rows: Rows<'_>,
        dim: usize,
        block_depth: usize,
        layout: Layout,
        mut storage: Vec<f32>,
    ) -> Self {
        let (values, centre, scales) = rows;
        let count = (values.len() / dim).div_ceil(WIDTH);

        // `pack_transposed_slab` and `pack_row_slab` write every value, so storage kept from an
        // earlier call needs no clearing. Aligned vector loads of `b` never straddle two cache
        // lines; unaligned ones that do cost the tile about 10% of its speed.
        storage.resize(count * dim * WIDTH + LANES, 0.0);
        let start = storage.as_ptr().align_offset(64).min(LANES);
        let packed = &mut storage[start..start + count * dim * WIDTH];

        // SAFETY (both closures): `_cpu` proves that the CPU has AVX-512F.
        let norms = match layout {
            Layout::PanelMajor => packed
                .par_chunks_mut(dim * WIDTH)
                .zip(values.par_chunks(dim * WIDTH))
                .zip(scales.par_chunks(WIDTH))
                .flat_map_iter(|((panel, panel_rows), scales)| {
                    #[allow(unsafe_code)]
                    unsafe {
                        pack_transposed_slab::<WIDTH>(panel, (panel_rows, centre, scales), 0)
                    }
                })
                .collect(),
            Layout::BlockMajor => {
                let block_norms: Vec<Vec<f32>> = packed
                    .par_chunks_mut(block_depth * count * WIDTH)
                    .enumerate()
                    .map(|(block, slabs)| {
                        let depth_start = block * block_depth;
                        let depth = slabs.len() / (count * WIDTH);
                        // The panels of a block are packed in parallel too, because rows of up
                        // to `MAX_DEPTH` values make a single block.
                        slabs
                            .par_chunks_exact_mut(depth * WIDTH)
                            .zip(values.par_chunks(dim * WIDTH))
                            .zip(scales.par_chunks(WIDTH))
                            .flat_map_iter(|((slab, panel_rows), scales)| {
                                #[allow(unsafe_code)]
                                unsafe {
                                    pack_row_slab::<WIDTH>(slab, (panel_rows, centre, scales), depth_start)
                                }
                            })
                            .collect()
                    })
                    .collect();

                // Summed in block order, so the norms do not depend on the number of threads.
                let mut norms = vec![0f32; count * WIDTH];
                for block in &block_norms {
                    for (norm, part) in norms.iter_mut().zip(block) {
                        *norm += part;
                    }
                }
                norms
            }
        };

        Self {
            storage,
            start,
            width: WIDTH,
            block_depth,
            layout,
            count,
            norms,
        }
    }

    /// Returns coordinates `depth_start..depth_start + depth` of panel `index`, with `dim`
    /// coordinates per row. `depth_start` must start a block of `block_depth` coordinates.
    fn slab(&self, index: usize, dim: usize, depth_start: usize, depth: usize) -> &[f32] {
        let slab_start = match self.layout {
            Layout::PanelMajor => index * dim + depth_start,
            Layout::BlockMajor => depth_start * self.count + index * depth,
        };
        let from = self.start + slab_start * self.width;
        &self.storage[from..from + depth * self.width]
    }

    /// Returns the norms of the rows of panel `index`, padding included.
    fn panel_norms(&self, index: usize) -> &[f32] {
        &self.norms[index * self.width..(index + 1) * self.width]
    }
}

/// Writes coordinates `depth_start..depth_start + depth` of the rows of a panel, minus the
/// centre and times their factors (see [`Rows`]), coordinate-major into `slab` (`depth x WIDTH`)
/// and returns the squared norms of those parts of the rows. Padding rows of a last, partial
/// panel get zeros.
///
/// Each gather loads one coordinate of sixteen rows, which is the transposition the panel needs.
/// The sixteen rows' cache lines stay in L1 over the sixteen coordinates each contains. The
/// gathers saved about 1 ms of the 1024 x 1024 x 1600 benchmark over a scalar loop.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn pack_transposed_slab<const WIDTH: usize>(
    slab: &mut [f32],
    panel: Rows<'_>,
    depth_start: usize,
) -> [f32; WIDTH] {
    let (panel_rows, centre, scales) = panel;
    let dim = centre.len();
    let rows = panel_rows.len() / dim;
    let depth = slab.len() / WIDTH;
    assert!(
        rows <= WIDTH
            && scales.len() == rows
            && slab.len() == depth * WIDTH
            && depth_start + depth <= dim
            && dim <= MAX_DIM,
        "packing coordinates {depth_start}..{} of {rows} rows of {dim} into a slab of {} values and {WIDTH} rows",
        depth_start + depth,
        slab.len()
    );

    let offsets: [i32; LANES] = std::array::from_fn(|lane| (lane * dim) as i32);
    // SAFETY: `offsets` contains 16 i32 values, the 64 bytes one unaligned load reads.
    let offsets = unsafe { _mm512_loadu_si512(offsets.as_ptr().cast()) };
    let mut norms = [0f32; WIDTH];

    for first in (0..WIDTH).step_by(LANES) {
        let in_panel = (WIDTH - first).min(LANES);
        let present = rows.saturating_sub(first).min(in_panel);
        let present_mask = lane_mask(present);
        let store_mask = lane_mask(in_panel);
        let rows_start = panel_rows.as_ptr().wrapping_add(first * dim + depth_start);
        // SAFETY: lane `l` reads `scales[first + l]` only for `first + l < rows`, the length of
        // `scales` asserted above. Masked-off lanes read nothing.
        let factors = unsafe { _mm512_maskz_loadu_ps(present_mask, scales.as_ptr().wrapping_add(first)) };

        let mut norm = _mm512_setzero_ps();
        for (k, &c) in centre[depth_start..depth_start + depth].iter().enumerate() {
            // SAFETY: lane `l` reads `panel_rows[(first + l) * dim + depth_start + k]` only
            // where `present_mask` is set, that is for `first + l < rows`, and
            // `depth_start + k < dim`: inside `panel_rows`, which contains `rows * dim` values.
            // Masked-off lanes read nothing.
            let values = unsafe {
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), present_mask, offsets, rows_start.wrapping_add(k))
            };
            let centred = _mm512_mul_ps(_mm512_maskz_sub_ps(present_mask, values, _mm512_set1_ps(c)), factors);
            norm = _mm512_fmadd_ps(centred, centred, norm);
            // SAFETY: the set lanes write `slab[k * WIDTH + first + l]` for `l < in_panel`,
            // below `(k + 1) * WIDTH <= depth * WIDTH`, the length of `slab` asserted above.
            unsafe { _mm512_mask_storeu_ps(slab.as_mut_ptr().add(k * WIDTH + first), store_mask, centred) };
        }

        let mut lanes = [0f32; LANES];
        // SAFETY: `lanes` has room for the 16 values of one vector.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), norm) };
        norms[first..first + in_panel].copy_from_slice(&lanes[..in_panel]);
    }
    norms
}

/// Writes coordinates `depth_start..depth_start + depth` of the rows of a panel, minus the
/// centre and times their factors (see [`Rows`]), row-major into `slab` (`WIDTH x depth`) and
/// returns the squared norms of those parts of the rows. Padding rows of a last, partial panel
/// get zeros.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn pack_row_slab<const WIDTH: usize>(slab: &mut [f32], panel: Rows<'_>, depth_start: usize) -> [f32; WIDTH] {
    let (panel_rows, centre, scales) = panel;
    let dim = centre.len();
    let rows = panel_rows.len() / dim;
    let depth = slab.len() / WIDTH;
    assert!(
        rows <= WIDTH && scales.len() == rows && slab.len() == depth * WIDTH && depth_start + depth <= dim,
        "packing coordinates {depth_start}..{} of {rows} rows of {dim} into a slab of {} values and {WIDTH} rows",
        depth_start + depth,
        slab.len()
    );

    let centre = &centre[depth_start..depth_start + depth];
    let mut norms = [0f32; WIDTH];
    for (row, (packed, norm)) in slab.chunks_exact_mut(depth).zip(&mut norms).enumerate() {
        if row >= rows {
            packed.fill(0.0);
            continue;
        }

        let values = &panel_rows[row * dim + depth_start..row * dim + depth_start + depth];
        let factor = _mm512_set1_ps(scales[row]);
        let mut sum = _mm512_setzero_ps();
        for k in (0..depth).step_by(LANES) {
            let mask = lane_mask(depth - k);
            // SAFETY: lane `l` reads and writes index `k + l` only where the mask is set, that is
            // for `k + l < depth`, the length of `values`, `centre` and `packed`.
            unsafe {
                let value = _mm512_maskz_loadu_ps(mask, values.as_ptr().add(k));
                let offset = _mm512_maskz_loadu_ps(mask, centre.as_ptr().add(k));
                let centred = _mm512_mul_ps(_mm512_sub_ps(value, offset), factor);
                sum = _mm512_fmadd_ps(centred, centred, sum);
                _mm512_mask_storeu_ps(packed.as_mut_ptr().add(k), mask, centred);
            }
        }
        *norm = _mm512_reduce_add_ps(sum);
    }
    norms
}

/// Returns the mask of the first `count` (at most 16) lanes.
pub(crate) fn lane_mask(count: usize) -> u16 {
    ((1u32 << count.min(LANES)) - 1) as u16
}

/// Computes the output values of the rows of `a`'s panels `a_range` and the rows of `b` in the
/// one panel `b`, whose first row is column `first_column` of the output.
#[allow(clippy::too_many_arguments)]
fn fill_strip(
    _cpu: Avx512,
    a: &Panels,
    a_range: std::ops::Range<usize>,
    b: &Panels,
    first_column: usize,
    output: &SharedOutput<'_>,
    dim: usize,
    finish: Finish,
) {
    let valid_columns = TILE_COLUMNS.min(output.columns - first_column);
    let b_norms = b.panel_norms(0);

    for depth_start in (0..dim).step_by(b.block_depth) {
        let depth = b.block_depth.min(dim - depth_start);
        let pass = Pass {
            first: depth_start == 0,
            last: (depth_start + depth == dim).then_some(finish),
        };
        let b_slab = b.slab(0, dim, depth_start, depth);

        for panel in a_range.clone() {
            let first_row = panel * TILE_ROWS;
            let tile = output.tile(
                first_row,
                TILE_ROWS.min(output.rows - first_row),
                first_column,
                valid_columns,
            );
            let inputs = TileInputs {
                a: a.slab(panel, dim, depth_start, depth),
                b: b_slab,
                a_norms: a.panel_norms(panel),
                b_norms,
            };

            // SAFETY: `_cpu` proves that the CPU has AVX-512F, `output.tile` checked that the
            // tile lies inside the live output, and `tile_pass` checks every other length. No
            // other task writes this tile, since no other task has both its rows and its columns.
            #[allow(unsafe_code)]
            unsafe {
                tile_pass(inputs, tile, pass)
            };
        }
    }
}

/// The pass over the coordinates that a tile call makes.
#[derive(Debug, Clone, Copy)]
struct Pass {
    /// The accumulators start at zero instead of the partial sums in the output.
    first: bool,

    /// On the last pass, how the tile finishes its values instead of storing partial sums.
    last: Option<Finish>,
}

/// The result that the last pass makes of the products `p` of the transformed rows.
#[derive(Debug, Clone, Copy)]
enum Finish {
    /// `max(0, |a|² + |b|² - 2 p)`: squared distances.
    SquaredDistance,

    /// `p` clamped to `[-1, 1]`: cosine similarities of rows scaled to unit length.
    ClampedProduct,
}

/// The packed slabs and norms one tile reads.
struct TileInputs<'a> {
    /// `TILE_ROWS x depth` coordinates of `a`, row-major.
    a: &'a [f32],

    /// `depth x TILE_COLUMNS` coordinates of `b`, coordinate-major and 64-byte aligned.
    b: &'a [f32],

    /// `TILE_ROWS` norms of `a`'s rows.
    a_norms: &'a [f32],

    /// `TILE_COLUMNS` norms of `b`'s rows.
    b_norms: &'a [f32],
}

/// The output of a tile: `rows x columns` values at `out + r * stride + c`.
///
/// A pointer rather than a slice, because the tasks write tiles of the same output rows at once,
/// and slices that span those rows would overlap.
struct Tile {
    out: *mut f32,

    /// Values from `out` to the end of the output matrix.
    available: usize,

    stride: usize,
    rows: usize,
    columns: usize,
}

/// Adds one slab's products to a tile, and on the last pass turns them into clamped distances.
///
/// # Safety
///
/// The CPU must support AVX-512F, `tile.out` must point into a live output matrix with
/// `tile.available` values from there on, and no other thread may read or write the tile's values
/// during the call.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn tile_pass(inputs: TileInputs<'_>, tile: Tile, pass: Pass) {
    let depth = inputs.a.len() / TILE_ROWS;
    assert!(
        inputs.a.len() == depth * TILE_ROWS
            && inputs.b.len() == depth * TILE_COLUMNS
            && inputs.a_norms.len() == TILE_ROWS
            && inputs.b_norms.len() == TILE_COLUMNS,
        "distance tile: slab or norm lengths disagree"
    );
    assert!(
        (1..=TILE_ROWS).contains(&tile.rows)
            && (1..=TILE_COLUMNS).contains(&tile.columns)
            && tile.columns <= tile.stride
            && tile.available >= (tile.rows - 1) * tile.stride + tile.columns,
        "distance tile: {} x {} values do not fit {} values with stride {}",
        tile.rows,
        tile.columns,
        tile.available,
        tile.stride
    );

    // Lane masks of the four vectors of a row: the last column panel may be partly padding.
    let masks: [u16; 4] = std::array::from_fn(|vector| lane_mask(tile.columns.saturating_sub(vector * LANES)));

    let out = tile.out;
    let mut accumulators = [_mm512_setzero_ps(); TILE_ROWS * 4];
    // The loops over rows and vectors have constant bounds, so the compiler unrolls them and the
    // accumulators stay in registers. The conditions skip the padding.
    if !pass.first {
        for row in 0..TILE_ROWS {
            for (vector, &mask) in masks.iter().enumerate() {
                if row < tile.rows && mask != 0 {
                    // SAFETY: lane `l` of this load reads value `row * stride + vector * 16 + l`
                    // from `out` only where the mask is set, that is for column
                    // `vector * 16 + l < columns`, which the assertion above puts among the
                    // `available` values. The start itself is such a column, since the mask is
                    // not empty.
                    accumulators[row * 4 + vector] =
                        unsafe { _mm512_maskz_loadu_ps(mask, out.add(row * tile.stride + vector * LANES)) };
                }
            }
        }
    }

    // Four coordinates per loop iteration, so the loop's counter and branch take fewer of the
    // issue slots that the multiply-adds need. Unrolled, long passes beat passes of 128
    // coordinates. Without unrolling, no depth from 64 to 2048 made a measurable difference.
    let whole = depth - depth % UNROLL;
    for k in (0..whole).step_by(UNROLL) {
        for step in k..k + UNROLL {
            // SAFETY: `step < depth`, see `add_coordinate`.
            unsafe { add_coordinate(&inputs, depth, step, &mut accumulators) };
        }
    }
    for step in whole..depth {
        // SAFETY: `step < depth`, see `add_coordinate`.
        unsafe { add_coordinate(&inputs, depth, step, &mut accumulators) };
    }

    let minus_two = _mm512_set1_ps(-2.0);
    let minus_one = _mm512_set1_ps(-1.0);
    let one = _mm512_set1_ps(1.0);
    let zero = _mm512_setzero_ps();
    for row in 0..TILE_ROWS {
        let a_norm = _mm512_set1_ps(inputs.a_norms[row]);
        for (vector, &mask) in masks.iter().enumerate() {
            if row >= tile.rows || mask == 0 {
                continue;
            }
            let mut value: __m512 = accumulators[row * 4 + vector];
            // `max(x, v)` and `min(x, v)` return their second operand when one is NaN, so NaN
            // stays NaN.
            match pass.last {
                None => {}
                Some(Finish::SquaredDistance) => {
                    // SAFETY: `b_norms` contains 64 values, so the vector at `vector * 16` is
                    // inside.
                    let b_norm = unsafe { _mm512_loadu_ps(inputs.b_norms.as_ptr().add(vector * LANES)) };
                    let distance = _mm512_fmadd_ps(value, minus_two, _mm512_add_ps(a_norm, b_norm));
                    value = _mm512_max_ps(zero, distance);
                }
                Some(Finish::ClampedProduct) => value = _mm512_min_ps(one, _mm512_max_ps(minus_one, value)),
            }
            // SAFETY: the same lanes as the masked load above.
            unsafe { _mm512_mask_storeu_ps(out.add(row * tile.stride + vector * LANES), mask, value) };
        }
    }
}

/// Coordinates that [`tile_pass`] adds per iteration of its loop.
const UNROLL: usize = 4;

/// Adds coordinate `k` of the slabs' rows to the tile's accumulators: one broadcast of each of the
/// six `a` values against the four vectors of `b`.
///
/// # Safety
///
/// The CPU must support AVX-512F, `inputs.a` must contain `TILE_ROWS * depth` values,
/// `inputs.b` `depth * TILE_COLUMNS` (as [`tile_pass`] asserts), and `k < depth`.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn add_coordinate(inputs: &TileInputs<'_>, depth: usize, k: usize, accumulators: &mut [__m512; TILE_ROWS * 4]) {
    let a = inputs.a.as_ptr();

    // SAFETY: `b` contains `depth x 64` values, so the four vectors at `k * 64` lie inside it
    // for `k < depth`.
    let (b0, b1, b2, b3) = unsafe {
        let b = inputs.b.as_ptr().add(k * TILE_COLUMNS);
        (
            _mm512_loadu_ps(b),
            _mm512_loadu_ps(b.add(LANES)),
            _mm512_loadu_ps(b.add(2 * LANES)),
            _mm512_loadu_ps(b.add(3 * LANES)),
        )
    };
    for row in 0..TILE_ROWS {
        // SAFETY: `a` contains `6 x depth` values and `row * depth + k < 6 * depth`.
        let a = _mm512_set1_ps(unsafe { *a.add(row * depth + k) });
        let accumulator = &mut accumulators[row * 4..row * 4 + 4];
        accumulator[0] = _mm512_fmadd_ps(a, b0, accumulator[0]);
        accumulator[1] = _mm512_fmadd_ps(a, b1, accumulator[1]);
        accumulator[2] = _mm512_fmadd_ps(a, b2, accumulator[2]);
        accumulator[3] = _mm512_fmadd_ps(a, b3, accumulator[3]);
    }
}

//! Resizing of 8-bit images with fast_image_resize, which reads the crop window in place.
//!
//! fast_image_resize 6.1 ports Pillow's separable convolution resampler (filter support widened
//! by the downscale factor, 8-bit values, fixed-point coefficients) to SIMD, chosen at run time
//! from the CPU's extensions. It runs on the calling thread because its `rayon` feature is off.

use std::cell::RefCell;

use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::{U8, U8x3};
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer};

use crate::geometry::ResizeFilter;

thread_local! {
    /// One resizer per thread, so its intermediate buffers are reused from image to image.
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

impl ResizeFilter {
    fn to_resize_alg(self) -> ResizeAlg {
        match self {
            Self::Nearest => ResizeAlg::Nearest,
            Self::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
            Self::Bicubic => ResizeAlg::Convolution(FilterType::CatmullRom),
            Self::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
        }
    }
}

/// Resizes the window `(x, y, width, height)` of `values` (row-major, `channels` values per
/// pixel, 1 or 3) to `size`.
pub(crate) fn resize_levels(
    values: &[u8],
    image_size: (u32, u32),
    channels: usize,
    window: (u32, u32, u32, u32),
    size: (u32, u32),
    filter: ResizeFilter,
) -> Vec<u8> {
    match channels {
        1 => resize_pixels::<U8>(values, image_size, channels, window, size, filter),
        3 => resize_pixels::<U8x3>(values, image_size, channels, window, size, filter),
        _ => unreachable!("augmenters only see gray and RGB images"),
    }
}

fn resize_pixels<P: PixelTrait>(
    values: &[u8],
    (image_width, image_height): (u32, u32),
    channels: usize,
    (x, y, window_width, window_height): (u32, u32, u32, u32),
    (width, height): (u32, u32),
    filter: ResizeFilter,
) -> Vec<u8> {
    let source = TypedImageRef::<P>::from_buffer(image_width, image_height, values)
        .expect("a u8 buffer contains one value per channel of every pixel and needs no alignment");

    let mut output = vec![0u8; width as usize * height as usize * channels];
    let mut target = TypedImage::<P>::from_buffer(width, height, &mut output)
        .expect("the output buffer was sized for the output image");

    let options = ResizeOptions::new().resize_alg(filter.to_resize_alg()).crop(
        f64::from(x),
        f64::from(y),
        f64::from(window_width),
        f64::from(window_height),
    );
    RESIZER.with_borrow_mut(|resizer| {
        resizer
            .resize_typed(&source, &mut target, &options)
            .expect("source and target have the same pixel type and the window lies inside the image");
    });
    output
}

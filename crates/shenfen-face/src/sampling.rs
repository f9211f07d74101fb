//! Filling model input tensors straight from the source image: every crop,
//! resize and alignment is one affine map sampled bilinearly, written directly
//! in the NCHW layout the models read, with no intermediate images.

use image::RgbImage;

use crate::geometry::Affine;

/// How pixels become model inputs.
#[derive(Debug, Clone, Copy)]
pub enum Channels {
    /// Three planes R, G, B, each `(v - mean[c]) * scale[c]`.
    Rgb {
        /// Per-channel value subtracted first.
        mean: [f32; 3],
        /// Per-channel factor applied after.
        scale: [f32; 3],
    },
    /// Three planes in B, G, R order (models trained on OpenCV's BGR images),
    /// each `(v - mean[c]) * scale[c]` with `c` indexing B, G, R.
    Bgr {
        /// Per-plane value subtracted first.
        mean: [f32; 3],
        /// Per-plane factor applied after.
        scale: [f32; 3],
    },
    /// One plane of luma (BT.601), `(y - mean) * scale`.
    Grey {
        /// Value subtracted first.
        mean: f32,
        /// Factor applied after.
        scale: f32,
    },
}

/// Samples `image` through `map` (output pixel → source pixel) into a tensor
/// of `out_w`×`out_h`. Pixels outside the image repeat the border.
pub(crate) fn sample(image: &RgbImage, map: &Affine, out_w: usize, out_h: usize, channels: Channels) -> Vec<f32> {
    let planes = match channels {
        Channels::Rgb { .. } | Channels::Bgr { .. } => 3,
        Channels::Grey { .. } => 1,
    };
    let plane = out_w * out_h;
    let mut out = vec![0.0f32; planes * plane];
    for y in 0..out_h {
        for x in 0..out_w {
            let [sx, sy] = map.apply([x as f32, y as f32]);
            let rgb = bilinear(image, sx, sy);
            let i = y * out_w + x;
            match channels {
                Channels::Rgb { mean, scale } => {
                    for c in 0..3 {
                        out[c * plane + i] = (rgb[c] - mean[c]) * scale[c];
                    }
                }
                Channels::Bgr { mean, scale } => {
                    for c in 0..3 {
                        out[c * plane + i] = (rgb[2 - c] - mean[c]) * scale[c];
                    }
                }
                Channels::Grey { mean, scale } => {
                    out[i] = (luma(rgb) - mean) * scale;
                }
            }
        }
    }
    out
}

/// BT.601 luma, as OpenCV's RGB→grey.
pub(crate) fn luma(rgb: [f32; 3]) -> f32 {
    0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
}

fn bilinear(image: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = image.dimensions();
    let max_x = (w.max(1) - 1) as f32;
    let max_y = (h.max(1) - 1) as f32;
    let x = x.clamp(0.0, max_x);
    let y = y.clamp(0.0, max_y);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let p = |xx: u32, yy: u32| image.get_pixel(xx, yy).0;
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut out = [0.0; 3];
    for ch in 0..3 {
        let top = f32::from(a[ch]) * (1.0 - fx) + f32::from(b[ch]) * fx;
        let bottom = f32::from(c[ch]) * (1.0 - fx) + f32::from(d[ch]) * fx;
        out[ch] = top * (1.0 - fy) + bottom * fy;
    }
    out
}

/// A copy of `image` shrunk by an integer `factor` with box averaging, so a
/// later bilinear resize of a large photo does not alias.
pub(crate) fn box_downscale(image: &RgbImage, factor: u32) -> RgbImage {
    if factor <= 1 {
        return image.clone();
    }
    let (w, h) = (image.width() / factor, image.height() / factor);
    let area = factor * factor;
    RgbImage::from_fn(w.max(1), h.max(1), |x, y| {
        let mut sum = [0u32; 3];
        for dy in 0..factor {
            for dx in 0..factor {
                let p = image
                    .get_pixel((x * factor + dx).min(image.width() - 1), (y * factor + dy).min(image.height() - 1));
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
            }
        }
        image::Rgb(sum.map(|s| (s / area) as u8))
    })
}

/// `image` resampled through `map` (output pixel → source pixel) into a new
/// `out_w`×`out_h` image: rotations, rescales and crops for test data.
pub(crate) fn resample(image: &RgbImage, map: &Affine, out_w: u32, out_h: u32) -> RgbImage {
    RgbImage::from_fn(out_w, out_h, |x, y| {
        let [sx, sy] = map.apply([x as f32, y as f32]);
        image::Rgb(bilinear(image, sx, sy).map(|v| v.round().clamp(0.0, 255.0) as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BoundingBox;

    #[test]
    fn identity_crop_reproduces_pixels() {
        let image = RgbImage::from_fn(4, 3, |x, y| image::Rgb([(x * 10) as u8, (y * 20) as u8, 7]));
        let map = Affine::crop(&BoundingBox { x1: 0.0, y1: 0.0, x2: 4.0, y2: 3.0 }, 4, 3);
        let t = sample(&image, &map, 4, 3, Channels::Rgb { mean: [0.0; 3], scale: [1.0; 3] });
        assert_eq!(&t[0..4], &[0.0, 10.0, 20.0, 30.0]);
        assert_eq!(&t[12 + 4..12 + 8], &[20.0, 20.0, 20.0, 20.0]);
        assert_eq!(t[24], 7.0);
        let bgr = sample(&image, &map, 4, 3, Channels::Bgr { mean: [0.0; 3], scale: [1.0; 3] });
        assert_eq!((bgr[0], bgr[24 + 1]), (7.0, 10.0));
    }

    #[test]
    fn box_downscale_averages() {
        let image = RgbImage::from_fn(4, 4, |x, _| image::Rgb([if x % 2 == 0 { 0 } else { 200 }, 0, 0]));
        let small = box_downscale(&image, 2);
        assert_eq!(small.dimensions(), (2, 2));
        assert_eq!(small.get_pixel(0, 0).0, [100, 0, 0]);
    }
}

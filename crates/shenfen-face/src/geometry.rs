//! Points, boxes and 2-D affine maps: the geometry that crops, resizes and
//! aligns faces. Hand-written because it is a few dozen lines of arithmetic;
//! pulling in an image-processing crate for it would cost more than it saves.

/// A point in pixel coordinates.
pub type Point = [f32; 2];

/// A face box in pixel coordinates (x1, y1) – (x2, y2).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BoundingBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BoundingBox {
    /// Width.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }

    /// Height.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }

    /// Whether the point lies inside the box (edges included on the top-left).
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x1 && x < self.x2 && y >= self.y1 && y < self.y2
    }

    /// Intersection over union, for non-maximum suppression.
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.width() * self.height() + other.width() * other.height() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The largest fraction of the box's width or height that lies outside a
    /// `width`×`height` image.
    pub fn fraction_outside(&self, width: f32, height: f32) -> f32 {
        let horizontal = (-self.x1).max(self.x2 - width).max(0.0) / self.width().max(1.0);
        let vertical = (-self.y1).max(self.y2 - height).max(0.0) / self.height().max(1.0);
        horizontal.max(vertical)
    }

    /// The box grown by `factor` around its centre.
    pub fn scaled(&self, factor: f32) -> BoundingBox {
        let (cx, cy) = ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0);
        let (hw, hh) = (self.width() * factor / 2.0, self.height() * factor / 2.0);
        BoundingBox { x1: cx - hw, y1: cy - hh, x2: cx + hw, y2: cy + hh }
    }

    /// The box moved (not shrunk, where possible) to lie inside a `width`×`height` image,
    /// as the models' reference code crops.
    pub fn shifted_inside(&self, width: f32, height: f32) -> BoundingBox {
        let shift = |lo: f32, hi: f32, max: f32| {
            let (lo, hi) = if lo < 0.0 { (0.0, hi - lo) } else { (lo, hi) };
            if hi > max - 1.0 { ((lo - (hi - max + 1.0)).max(0.0), max - 1.0) } else { (lo, hi) }
        };
        let (x1, x2) = shift(self.x1, self.x2, width);
        let (y1, y2) = shift(self.y1, self.y2, height);
        BoundingBox { x1, y1, x2, y2 }
    }
}

/// An affine map `p ↦ A·p + t`, stored as the 2×3 matrix [a b tx; c d ty].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Affine(pub [f32; 6]);

impl Affine {
    /// Maps the output rectangle `0..out_w × 0..out_h` onto `region` of the source:
    /// a crop followed by a resize.
    pub(crate) fn crop(region: &BoundingBox, out_w: usize, out_h: usize) -> Affine {
        let sx = region.width() / out_w as f32;
        let sy = region.height() / out_h as f32;
        Affine([sx, 0.0, region.x1 + 0.5 * sx - 0.5, 0.0, sy, region.y1 + 0.5 * sy - 0.5])
    }

    /// Applies the map to a point.
    pub(crate) fn apply(&self, p: Point) -> Point {
        let [a, b, tx, c, d, ty] = self.0;
        [a * p[0] + b * p[1] + tx, c * p[0] + d * p[1] + ty]
    }

    /// The least-squares similarity transform (rotation, uniform scale,
    /// translation; no reflection) taking `from` onto `to` — Umeyama's method
    /// in closed form for 2-D.
    pub(crate) fn similarity(from: &[Point], to: &[Point]) -> Option<Affine> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[Point]| {
            let s = pts.iter().take(n).fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
            [s[0] / n as f32, s[1] / n as f32]
        };
        let (mf, mt) = (mean(from), mean(to));
        let (mut dot, mut cross, mut var) = (0.0, 0.0, 0.0);
        for (f, t) in from.iter().zip(to).take(n) {
            let (fx, fy, tx, ty) = (f[0] - mf[0], f[1] - mf[1], t[0] - mt[0], t[1] - mt[1]);
            dot += fx * tx + fy * ty;
            cross += fx * ty - fy * tx;
            var += fx * fx + fy * fy;
        }
        if var < f32::EPSILON {
            return None;
        }
        let (a, b) = (dot / var, cross / var);
        Some(Affine([a, -b, mt[0] - (a * mf[0] - b * mf[1]), b, a, mt[1] - (b * mf[0] + a * mf[1])]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        let truth = Affine([0.8 * 0.6, -0.8 * 0.8, 12.0, 0.8 * 0.8, 0.8 * 0.6, -7.0]);
        let from = [[0.0, 0.0], [10.0, 0.0], [5.0, 8.0], [1.0, 12.0], [9.0, 12.0]];
        let to: Vec<Point> = from.iter().map(|p| truth.apply(*p)).collect();
        let found = Affine::similarity(&from, &to).unwrap();
        for (x, y) in found.0.iter().zip(truth.0) {
            assert!((x - y).abs() < 1e-4, "{found:?} vs {truth:?}");
        }
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert!(Affine::similarity(&[[1.0, 1.0]; 5], &[[0.0, 0.0]; 5]).is_none());
    }

    #[test]
    fn boxes() {
        let a = BoundingBox { x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 };
        let b = BoundingBox { x1: 5.0, y1: 0.0, x2: 15.0, y2: 10.0 };
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        let moved = BoundingBox { x1: -5.0, y1: 2.0, x2: 20.0, y2: 12.0 }.shifted_inside(30.0, 30.0);
        assert_eq!(moved, BoundingBox { x1: 0.0, y1: 2.0, x2: 25.0, y2: 12.0 });
    }
}

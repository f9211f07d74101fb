//! Verification accuracy from labelled comparison scores: ROC, TAR at fixed
//! FAR, EER and threshold calibration (ISO/IEC 19795-1 terms).

use serde::Serialize;

/// One operating point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    /// Accept when similarity ≥ this.
    pub threshold: f32,
    /// False accept rate: impostor pairs accepted / impostor pairs.
    pub far: f64,
    /// True accept rate: genuine pairs accepted / genuine pairs.
    pub tar: f64,
}

/// Accuracy summary over a set of genuine and impostor scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    /// Genuine (same person) pairs.
    pub genuine_pairs: usize,
    /// Impostor (different people) pairs.
    pub impostor_pairs: usize,
    /// Lowest genuine similarity.
    pub min_genuine: Option<f32>,
    /// Highest impostor similarity.
    pub max_impostor: Option<f32>,
    /// `min_genuine - max_impostor`: positive means the sets are separable.
    pub margin: Option<f32>,
    /// Equal error rate.
    pub eer: f64,
    /// TAR at FAR ≤ 1e-2, 1e-3, 1e-4; `None` when there are too few impostor
    /// pairs to measure that FAR (fewer than 1/FAR).
    pub tar_at_far: Vec<(f64, Option<f64>)>,
    /// The ROC, one point per distinct score.
    pub roc: Vec<RocPoint>,
}

impl Accuracy {
    /// Computes the summary.
    pub fn from_scores(genuine: &[f32], impostor: &[f32]) -> Accuracy {
        let mut thresholds: Vec<f32> = genuine.iter().chain(impostor).copied().filter(|s| s.is_finite()).collect();
        thresholds.sort_by(f32::total_cmp);
        thresholds.dedup();
        let rate = |scores: &[f32], t: f32| {
            if scores.is_empty() {
                0.0
            } else {
                scores.iter().filter(|&&s| s >= t).count() as f64 / scores.len() as f64
            }
        };
        let roc: Vec<RocPoint> = thresholds
            .iter()
            .map(|&t| RocPoint { threshold: t, far: rate(impostor, t), tar: rate(genuine, t) })
            .collect();
        let eer = roc
            .iter()
            .map(|p| (p.far, 1.0 - p.tar))
            .min_by(|a, b| (a.0 - a.1).abs().total_cmp(&(b.0 - b.1).abs()))
            .map_or(0.0, |(far, frr)| (far + frr) / 2.0);
        let tar_at_far = [1e-2, 1e-3, 1e-4]
            .into_iter()
            .map(|target| {
                let measurable = impostor.len() as f64 >= 1.0 / target;
                let best = roc
                    .iter()
                    .filter(|p| p.far <= target)
                    .map(|p| p.tar)
                    .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
                (target, if measurable { best } else { None })
            })
            .collect();
        let min_genuine = genuine.iter().copied().reduce(f32::min);
        let max_impostor = impostor.iter().copied().reduce(f32::max);
        Accuracy {
            genuine_pairs: genuine.len(),
            impostor_pairs: impostor.len(),
            min_genuine,
            max_impostor,
            margin: min_genuine.zip(max_impostor).map(|(g, i)| g - i),
            eer,
            tar_at_far,
            roc,
        }
    }

    /// Verdicts that disagree with the labels at `threshold`: (false rejects, false accepts).
    pub fn errors_at(genuine: &[f32], impostor: &[f32], threshold: f32) -> (usize, usize) {
        (genuine.iter().filter(|&&s| s < threshold).count(), impostor.iter().filter(|&&s| s >= threshold).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_scores() {
        let acc = Accuracy::from_scores(&[0.6, 0.7, 0.9], &[0.1, 0.2]);
        assert_eq!(acc.margin, Some(0.6 - 0.2));
        assert_eq!(acc.eer, 0.0);
        assert_eq!(acc.tar_at_far[0], (1e-2, None), "2 impostor pairs cannot measure FAR 1e-2");
        assert_eq!(Accuracy::errors_at(&[0.6, 0.7], &[0.1, 0.65], 0.65), (1, 1));
    }

    #[test]
    fn tar_at_far_with_enough_impostors() {
        let impostor: Vec<f32> = (0..1000).map(|i| i as f32 / 2000.0).collect(); // 0 .. 0.4995
        let genuine = [0.3, 0.6, 0.8, 0.9];
        let acc = Accuracy::from_scores(&genuine, &impostor);
        let (_, tar) = acc.tar_at_far[1];
        assert_eq!(tar, Some(0.75), "at FAR ≤ 1e-3 only the 3 genuine scores above 0.4995 pass");
    }
}

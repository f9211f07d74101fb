//! ONNX Runtime, loaded dynamically from the library that ships inside the
//! PyPI `onnxruntime` wheel (fetched by `scripts/fetch-models.sh`).
//!
//! `ort` sessions need `&mut` to run, so each model keeps a small pool of
//! sessions: threads take whichever is free, and a pool as large as the number
//! of cores lets every core infer at once.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

use crate::FaceError;

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from `library` once per process; later calls reuse it.
pub(crate) fn environment(library: &Path) -> Result<Environment, FaceError> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|e| format!("cannot load {}: {e}", library.display()))?
                .with_name("shenfen-face")
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|reason| FaceError::Model { name: "onnxruntime".into(), reason })
}

/// One model, ready to run from any thread.
pub(crate) struct OnnxModel {
    name: &'static str,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl OnnxModel {
    /// Builds `pool_size` single-threaded sessions over the model bytes.
    pub(crate) fn load(
        env: &Environment,
        name: &'static str,
        bytes: &[u8],
        pool_size: usize,
    ) -> Result<OnnxModel, FaceError> {
        let fail = |e: ort::Error| FaceError::Model { name: name.into(), reason: e.to_string() };
        let sessions = (0..pool_size.max(1))
            .map(|_| {
                Session::builder(env)
                    .map_err(fail)?
                    .with_intra_threads(1)
                    .map_err(|e| fail(e.into()))?
                    .with_inter_threads(1)
                    .map_err(|e| fail(e.into()))?
                    .commit_from_memory(bytes)
                    .map(Mutex::new)
                    .map_err(fail)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OnnxModel { name, sessions, next: AtomicUsize::new(0) })
    }

    /// Runs the model on one float tensor of `shape` and returns every output,
    /// flattened, in the model's output order.
    pub(crate) fn run(&self, shape: [usize; 4], input: &[f32]) -> Result<Vec<Vec<f32>>, FaceError> {
        let fail = |e: ort::Error| FaceError::Inference { name: self.name, reason: e.to_string() };
        let tensor = TensorRef::from_array_view((shape, input)).map_err(fail)?;
        let mut session = self.acquire();
        let outputs = session.run(ort::inputs![tensor]).map_err(fail)?;
        outputs
            .values()
            .map(|value| value.try_extract_tensor::<f32>().map(|(_, data)| data.to_vec()).map_err(fail))
            .collect()
    }

    /// A free session if there is one, else waits for the next in turn.
    fn acquire(&self) -> std::sync::MutexGuard<'_, Session> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.sessions.len();
        for offset in 0..n {
            if let Ok(guard) = self.sessions[(start + offset) % n].try_lock() {
                return guard;
            }
        }
        self.sessions[start % n].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

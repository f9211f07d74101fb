// The device camera: open it into a <video>, grab frames as base64 JPEG.

/**
 * Opens a camera into `video` — the front one for a selfie, the back one
 * (`environment`, at a higher resolution, for the small modules of a QR code)
 * at a counter; returns a stop function.
 */
export async function openCamera(video, facingMode = 'user') {
  const [width, height] = facingMode === 'user' ? [640, 480] : [1280, 720];
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode, width: { ideal: width }, height: { ideal: height } },
    audio: false,
  });
  video.srcObject = stream;
  await video.play();
  return () => stream.getTracks().forEach((track) => track.stop());
}

/**
 * The video's current picture, base64 without the data: prefix, as the APIs
 * take frames. Faces go lossless (WebP, or PNG where WebP cannot be encoded):
 * the passive anti-spoofing model reads JPEG artefacts as a screen or a print
 * (measured: score 0.13–0.27 at JPEG quality 0.95–0.98, 0.59 lossless, for the
 * same frame, a face filling the picture; at arm's length JPEG 0.8–0.95 cost
 * nothing measurable, docs/MODELS.md). QR codes go lossless too: JPEG at 0.95 already loses the
 * small modules of a 1 KB code filmed off a phone screen.
 */
export function grabFrame(video, type = 'image/webp', quality = 1) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.toDataURL(type, quality).split(',')[1];
}

/** Waits `ms` milliseconds. */
export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

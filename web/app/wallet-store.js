// The wallet's storage in IndexedDB: single-use credentials, each with its own
// non-extractable WebCrypto device key (stored as a CryptoKey object, which
// the browser keeps but never exports), and the disclosure log.

const DB_NAME = 'shenfen-wallet';
const VERSION = 1;

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('credentials', { keyPath: 'id', autoIncrement: true });
      db.createObjectStore('log', { keyPath: 'id', autoIncrement: true });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(storeName, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const result = action(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(result.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** A fresh P-256 device key pair whose private half can sign but never be exported. */
export function newDeviceKey() {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

/** Replaces every held credential by a new batch, in one transaction (enrollment withdrew the old ones). */
export async function replaceCredentials(credentials) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction('credentials', 'readwrite');
    const store = tx.objectStore('credentials');
    store.clear();
    for (const credential of credentials) store.add(credential);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Every held credential. */
export const allCredentials = () => run('credentials', 'readonly', (store) => store.getAll());

/** Marks a credential as shown: it is never shown to anyone else. */
export async function markUsed(credential) {
  await run('credentials', 'readwrite', (store) => store.put({ ...credential, used: true }));
}

/** Appends a disclosure record. */
export const appendLog = (record) => run('log', 'readwrite', (store) => store.add(record));

/** The disclosure log, oldest first. */
export const readLog = () => run('log', 'readonly', (store) => store.getAll());

/** Forgets every credential (after they were withdrawn). */
export const forgetCredentials = () => replaceCredentials([]);

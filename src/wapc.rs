//! The waPC protocol between the module and its host (kwctl, policy-server), on the guest's side.
//!
//! The host calls `__guest_call` with an operation's name and a payload; the module answers one of
//! its three operations by name. `wapc_guest` would route the call through a registry: a lazily
//! made hash map with random keys, filled by `wapc_init`. A fresh instance (policy-server makes one
//! per request) would pay for it on every request: a WASI `random_get` host call, the hashing, and
//! three function-table entries that a fresh instance fills on first use, all to call one
//! function the host names. So the operations are matched here, and the host calls the module
//! makes (Kubernetes, OCI, the log) go through the same few imports.

/// The answer to `protocol_version`: the version of Kubewarden's policy protocol the module
/// speaks, as Kubewarden names it.
pub const PROTOCOL_VERSION: &[u8] = br#""v1""#;

/// The operations a host may call, and the answer: the bytes for `__guest_response`, or the text
/// for `__guest_error`.
pub fn dispatch(operation: &[u8], payload: &[u8]) -> Result<Vec<u8>, String> {
    match operation {
        b"validate" => Ok(crate::validate(payload)),
        b"validate_settings" => crate::validate_settings(payload),
        b"protocol_version" => Ok(PROTOCOL_VERSION.to_vec()),
        _ => Err(format!(
            "No handler registered for function {}",
            String::from_utf8_lossy(operation)
        )),
    }
}

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "wapc")]
    unsafe extern "C" {
        pub fn __guest_request(op_ptr: *mut u8, ptr: *mut u8);
        pub fn __guest_response(ptr: *const u8, len: usize);
        pub fn __guest_error(ptr: *const u8, len: usize);
        #[allow(clippy::too_many_arguments)]
        pub fn __host_call(
            binding_ptr: *const u8,
            binding_len: usize,
            namespace_ptr: *const u8,
            namespace_len: usize,
            operation_ptr: *const u8,
            operation_len: usize,
            payload_ptr: *const u8,
            payload_len: usize,
        ) -> usize;
        pub fn __host_response_len() -> usize;
        pub fn __host_response(ptr: *mut u8);
        pub fn __host_error_len() -> usize;
        pub fn __host_error(ptr: *mut u8);
    }
}

/// The host's call of an operation `op_len` bytes long with a payload of `req_len` bytes: 1 with
/// the answer given through `__guest_response`, 0 with an error given through `__guest_error`.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn __guest_call(op_len: usize, req_len: usize) -> i32 {
    let mut operation = vec![0u8; op_len];
    let mut payload = vec![0u8; req_len];
    // SAFETY: the host writes the operation's name and the payload, of the lengths it gave.
    unsafe { imports::__guest_request(operation.as_mut_ptr(), payload.as_mut_ptr()) };
    match dispatch(&operation, &payload) {
        // SAFETY: the host copies the bytes before the call returns.
        Ok(answer) => unsafe {
            imports::__guest_response(answer.as_ptr(), answer.len());
            1
        },
        // SAFETY: as above.
        Err(error) => unsafe {
            imports::__guest_error(error.as_ptr(), error.len());
            0
        },
    }
}

/// One host call of `operation` in `namespace` (the `kubewarden` binding): the host's answer, or
/// the host's error message.
#[cfg(target_arch = "wasm32")]
pub fn host_call(namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    const BINDING: &str = "kubewarden";
    // SAFETY: every pointer is valid for its length during the call; the answer's and the error's
    // buffers have the lengths the host gives, which it fills.
    unsafe {
        let ok = imports::__host_call(
            BINDING.as_ptr(),
            BINDING.len(),
            namespace.as_ptr(),
            namespace.len(),
            operation.as_ptr(),
            operation.len(),
            payload.as_ptr(),
            payload.len(),
        );
        if ok == 1 {
            let mut answer = vec![0u8; imports::__host_response_len()];
            imports::__host_response(answer.as_mut_ptr());
            Ok(answer)
        } else {
            let mut error = vec![0u8; imports::__host_error_len()];
            imports::__host_error(error.as_mut_ptr());
            Err(String::from_utf8_lossy(&error).into_owned())
        }
    }
}

/// Natively there is no waPC host: every host call fails (the tests use in-memory hosts).
#[cfg(not(target_arch = "wasm32"))]
pub fn host_call(namespace: &str, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
    Err(format!("no waPC host to answer {namespace}/{operation}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_answered_by_its_own_function() {
        let settings = dispatch(b"validate_settings", b"{}").unwrap();
        let settings: serde_json::Value = serde_json::from_slice(&settings).unwrap();
        assert_eq!(settings["valid"], true, "{settings}");
        let version = dispatch(b"protocol_version", b"").unwrap();
        assert_eq!(version, br#""v1""#);
        let unreadable = b"not a payload";
        let answer = dispatch(b"validate", unreadable).unwrap();
        assert_eq!(answer, crate::admission::validate(unreadable).to_json());
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["accepted"], false, "{answer}");
    }

    #[test]
    fn an_unknown_operation_is_an_error_naming_it() {
        let error = dispatch(b"mutate", b"{}").unwrap_err();
        assert_eq!(error, "No handler registered for function mutate");
    }
}

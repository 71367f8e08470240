//! Loading a built model library and checking its `extern "C"` ABI (see
//! [`crate::wrapper`] for the function table).

use std::ffi::c_void;
use std::path::Path;

use libloading::Library;

use crate::error::{SimError, SimResult};
use crate::spec::TopSpec;
use crate::wrapper::ABI_VERSION;

type CreateFn = unsafe extern "C" fn(*const std::ffi::c_char, u64, *mut *mut c_void) -> i32;
type HandleFn = unsafe extern "C" fn(*mut c_void);
type PokeFn = unsafe extern "C" fn(*mut c_void, u32, *const u64) -> i32;
type PeekFn = unsafe extern "C" fn(*mut c_void, u32, *mut u64) -> i32;
type TickFn = unsafe extern "C" fn(*mut c_void, u64);
type ResetFn = unsafe extern "C" fn(*mut c_void, u32);
type CountFn = unsafe extern "C" fn() -> u32;
type WidthFn = unsafe extern "C" fn(u32) -> u32;

/// A loaded model library with its functions resolved. The function pointers stay
/// valid as long as `_lib` is alive, which this struct guarantees by owning it.
pub(crate) struct Api {
    pub create: CreateFn,
    pub destroy: HandleFn,
    pub poke: PokeFn,
    pub peek: PeekFn,
    pub eval: HandleFn,
    pub tick: TickFn,
    pub set_reset: ResetFn,
    // Declared last so it is dropped after nothing can call the pointers above.
    _lib: Library,
}

impl Api {
    /// Load `path` and check that its ABI version and port table match `spec`.
    pub fn load(path: &Path, spec: &TopSpec) -> SimResult<Api> {
        let err = |message: String| SimError::Load {
            path: path.to_path_buf(),
            message,
        };
        // SAFETY: the library is one we built from generated C++; its static
        // initialisers are Verilator's and have no preconditions.
        let lib = unsafe { Library::new(path) }.map_err(|e| err(e.to_string()))?;
        // SAFETY (every `get` below): the symbol types match the definitions in
        // `wrapper_cpp`, and the ABI version check guards against an older layout.
        unsafe {
            fn sym<T: Copy>(lib: &Library, name: &str) -> Result<T, String> {
                // SAFETY: caller guarantees `T` is the symbol's true type.
                unsafe { lib.get::<T>(name.as_bytes()) }
                    .map(|s| *s)
                    .map_err(|e| format!("missing symbol `{name}`: {e}"))
            }
            let version: CountFn = sym(&lib, "accgen_abi_version").map_err(err)?;
            if version() != ABI_VERSION {
                return Err(err(format!(
                    "ABI version {} but this harness speaks {ABI_VERSION}",
                    version()
                )));
            }
            let count: CountFn = sym(&lib, "accgen_port_count").map_err(err)?;
            let width: WidthFn = sym(&lib, "accgen_port_width").map_err(err)?;
            if count() as usize != spec.ports.len() {
                return Err(err(format!(
                    "library has {} ports, module `{}` has {}",
                    count(),
                    spec.name,
                    spec.ports.len()
                )));
            }
            for (i, p) in spec.ports.iter().enumerate() {
                if width(i as u32) != p.width {
                    return Err(err(format!(
                        "port {i} `{}` is {} bits in the library, {} in the module",
                        p.name,
                        width(i as u32),
                        p.width
                    )));
                }
            }
            Ok(Api {
                create: sym(&lib, "accgen_create").map_err(err)?,
                destroy: sym(&lib, "accgen_destroy").map_err(err)?,
                poke: sym(&lib, "accgen_poke").map_err(err)?,
                peek: sym(&lib, "accgen_peek").map_err(err)?,
                eval: sym(&lib, "accgen_eval").map_err(err)?,
                tick: sym(&lib, "accgen_tick").map_err(err)?,
                set_reset: sym(&lib, "accgen_set_reset").map_err(err)?,
                _lib: lib,
            })
        }
    }
}

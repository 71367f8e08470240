//! [`Dut`]: one running instance of a Verilated model, driven through typed port
//! handles.
//!
//! Ports are looked up once by name ([`Dut::input`], [`Dut::output`]); the handles are
//! small `Copy` values, so the per-cycle calls do no string work. An [`OutPort`] has no
//! poke method, so driving an output does not compile. Values are checked against the
//! port's width and signedness, and a value that does not fit panics with a message
//! naming the port: a testbench bug, not a run-time condition.
//!
//! Timing: pokes take effect immediately for combinational logic (a peek after a poke
//! re-evaluates the model first); [`Dut::tick`] is one rising clock edge followed by a
//! falling one.
//!
//! A `Dut` is not `Send`: the Verilated model it owns belongs to the thread that
//! created it. Build a [`Model`] once and instantiate it in every thread instead.

use std::ffi::{c_void, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use accgen_hw::rtl::{Dir, PortInfo, Value};

use crate::build::Model;
use crate::error::{SimError, SimResult};
use crate::ffi::Api;
use crate::spec::{dir_word, TopSpec};

/// Words of the widest port (8192 bits).
const MAX_WORDS: usize = 128;

/// Handle of an input port: can be poked and peeked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPort {
    index: u32,
    width: u32,
    signed: bool,
    model: u64,
}

/// Handle of an output port: can only be peeked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutPort {
    index: u32,
    width: u32,
    signed: bool,
    model: u64,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::InPort {}
    impl Sealed for super::OutPort {}
}

/// A port handle of either direction (what the peek methods accept).
pub trait Port: sealed::Sealed + Copy {
    /// Position in the module's port list.
    fn index(&self) -> usize;
    /// Width in bits.
    fn width(&self) -> u32;
    /// True for a two's-complement port.
    fn signed(&self) -> bool;
    #[doc(hidden)]
    fn model(&self) -> u64;
}

macro_rules! impl_port {
    ($t:ty) => {
        impl Port for $t {
            fn index(&self) -> usize {
                self.index as usize
            }
            fn width(&self) -> u32 {
                self.width
            }
            fn signed(&self) -> bool {
                self.signed
            }
            fn model(&self) -> u64 {
                self.model
            }
        }
    };
}
impl_port!(InPort);
impl_port!(OutPort);

/// A running simulation instance of one top module.
pub struct Dut {
    api: Arc<Api>,
    spec: Arc<TopSpec>,
    model: u64,
    handle: *mut c_void,
    dirty: bool,
    cycle: u64,
    // Raw pointer above already makes this !Send/!Sync; keep that explicit.
    _not_send: PhantomData<*mut ()>,
}

impl std::fmt::Debug for Dut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dut")
            .field("top", &self.spec.name)
            .field("cycle", &self.cycle)
            .finish()
    }
}

impl Dut {
    /// Build `top` (or take it from the cache) and create one instance.
    pub fn build(
        top: &std::rc::Rc<accgen_hw::rtl::Module>,
        opts: &crate::SimOptions,
    ) -> SimResult<Dut> {
        Model::build(top, opts)?.instantiate()
    }

    pub(crate) fn create(model: &Model, vcd: Option<&Path>, seed: u64) -> SimResult<Dut> {
        let top = model.spec.name.clone();
        let path = match vcd {
            None => None,
            Some(p) => {
                if !model.info().traced {
                    return Err(SimError::TraceNotBuilt { top });
                }
                if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        SimError::io(format!("creating VCD directory {}", parent.display()), e)
                    })?;
                }
                let bytes = p.as_os_str().as_encoded_bytes().to_vec();
                Some(CString::new(bytes).map_err(|_| SimError::VcdOpen { path: p.into() })?)
            }
        };
        let mut handle: *mut c_void = std::ptr::null_mut();
        let c_path = path.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: `c_path` is null or a NUL-terminated string that outlives the call;
        // `handle` is a valid out-pointer.
        let rc = unsafe { (model.api.create)(c_path, seed, &mut handle) };
        match rc {
            0 if !handle.is_null() => {}
            1 => return Err(SimError::TraceNotBuilt { top }),
            2 => {
                return Err(SimError::VcdOpen {
                    path: vcd.unwrap_or(Path::new("")).to_path_buf(),
                })
            }
            other => {
                return Err(SimError::Load {
                    path: model.info().library.clone(),
                    message: format!("creating the model failed (code {other})"),
                })
            }
        }
        Ok(Dut {
            api: model.api.clone(),
            spec: model.spec.clone(),
            model: model.id,
            handle,
            dirty: false,
            cycle: 0,
            _not_send: PhantomData,
        })
    }

    /// The module interface.
    pub fn spec(&self) -> &TopSpec {
        &self.spec
    }

    fn lookup(&self, name: &str, want: Dir) -> SimResult<&PortInfo> {
        let Some(p) = self.spec.ports.iter().find(|p| p.name == name) else {
            return Err(SimError::UnknownPort {
                top: self.spec.name.clone(),
                name: name.to_string(),
                available: self.spec.port_list(),
            });
        };
        if p.dir != want {
            return Err(SimError::WrongDirection {
                top: self.spec.name.clone(),
                name: name.to_string(),
                actual: dir_word(p.dir),
                wanted: dir_word(want),
            });
        }
        Ok(p)
    }

    /// The input port called `name`.
    pub fn input(&self, name: &str) -> SimResult<InPort> {
        let p = self.lookup(name, Dir::Input)?;
        Ok(InPort {
            index: self.spec.index_of(name).expect("looked up") as u32,
            width: p.width,
            signed: p.signed,
            model: self.model,
        })
    }

    /// The output port called `name`.
    pub fn output(&self, name: &str) -> SimResult<OutPort> {
        let p = self.lookup(name, Dir::Output)?;
        Ok(OutPort {
            index: self.spec.index_of(name).expect("looked up") as u32,
            width: p.width,
            signed: p.signed,
            model: self.model,
        })
    }

    fn name_of<P: Port>(&self, p: P) -> &str {
        assert_eq!(
            p.model(),
            self.model,
            "port handle #{} belongs to a different model than `{}`",
            p.index(),
            self.spec.name
        );
        &self.spec.ports[p.index()].name
    }

    fn write(&mut self, p: InPort, words: &[u64]) {
        let _ = self.name_of(p);
        // SAFETY: `handle` is live; `words` holds ceil(width/64) words, all the
        // wrapper reads for this port.
        let rc = unsafe { (self.api.poke)(self.handle, p.index, words.as_ptr()) };
        debug_assert_eq!(rc, 0);
        self.dirty = true;
    }

    fn read<P: Port>(&mut self, p: P, buf: &mut [u64; MAX_WORDS]) -> usize {
        let _ = self.name_of(p);
        if self.dirty {
            self.eval();
        }
        // SAFETY: `handle` is live; `buf` has room for the widest port.
        let rc = unsafe { (self.api.peek)(self.handle, p.index() as u32, buf.as_mut_ptr()) };
        debug_assert_eq!(rc, 0);
        p.width().div_ceil(64) as usize
    }

    fn range_panic(&self, p: InPort, v: impl std::fmt::Display) -> ! {
        let (lo, hi) = match (p.signed, p.width) {
            (true, w) if w < 128 => (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1),
            (false, w) if w < 128 => (0, (1i128 << w) - 1),
            _ => (i128::MIN, i128::MAX),
        };
        panic!(
            "poke of port `{}` of `{}`: {v} does not fit in {} {} bits (allowed {lo}..={hi})",
            self.spec.ports[p.index()].name,
            self.spec.name,
            p.width,
            if p.signed { "signed" } else { "unsigned" }
        )
    }

    /// Drive input `p` with the non-negative number `v`. Panics, naming the port, if `v`
    /// is outside the port's range (for a signed port, `v` must be below 2^(width-1)).
    pub fn poke_u64(&mut self, p: InPort, v: u64) {
        let limit = if p.signed { p.width - 1 } else { p.width };
        if limit < 64 && v >> limit != 0 {
            self.range_panic(p, v);
        }
        let mut w = [0u64; MAX_WORDS];
        w[0] = v;
        self.write(p, &w[..p.width.div_ceil(64) as usize]);
    }

    /// Drive input `p` with the number `v`. Panics, naming the port, if `v` is outside
    /// the port's range (negative values need a signed port).
    pub fn poke_i64(&mut self, p: InPort, v: i64) {
        let fits = if p.signed {
            p.width >= 64 || (v >> (p.width - 1) == 0 || v >> (p.width - 1) == -1)
        } else {
            v >= 0 && (p.width >= 64 || v >> p.width == 0)
        };
        if !fits {
            self.range_panic(p, v);
        }
        let fill = if v < 0 { u64::MAX } else { 0 };
        let n = p.width.div_ceil(64) as usize;
        let mut w = [fill; MAX_WORDS];
        w[0] = v as u64;
        let top_bits = p.width % 64;
        if top_bits != 0 {
            w[n - 1] &= (1u64 << top_bits) - 1;
        }
        self.write(p, &w[..n]);
    }

    /// Drive input `p` with the bit pattern `v`; `v.width()` must equal the port width.
    pub fn poke(&mut self, p: InPort, v: &Value) {
        if v.width() != p.width {
            panic!(
                "poke of port `{}` of `{}`: value is {} bits but the port is {} bits",
                self.name_of(p),
                self.spec.name,
                v.width(),
                p.width
            );
        }
        self.write(p, v.words());
    }

    /// The bit pattern of port `p` (input or output).
    pub fn peek<P: Port>(&mut self, p: P) -> Value {
        let mut buf = [0u64; MAX_WORDS];
        let n = self.read(p, &mut buf);
        Value::from_words_truncating(p.width(), &buf[..n])
    }

    /// Port `p` as a number (two's complement for a signed port). Panics, naming the
    /// port, if it is negative or does not fit in `u64`.
    pub fn peek_u64<P: Port>(&mut self, p: P) -> u64 {
        let mut buf = [0u64; MAX_WORDS];
        let n = self.read(p, &mut buf);
        let w = p.width();
        let negative = p.signed() && (buf[((w - 1) / 64) as usize] >> ((w - 1) % 64)) & 1 == 1;
        if negative || buf[1..n].iter().any(|&x| x != 0) {
            panic!(
                "peek_u64 of port `{}` of `{}`: value {:?} ({}) does not fit in u64",
                self.name_of(p),
                self.spec.name,
                Value::from_words_truncating(w, &buf[..n]),
                if p.signed() { "signed" } else { "unsigned" }
            );
        }
        buf[0]
    }

    /// Port `p` as a number (two's complement for a signed port). Panics, naming the
    /// port, if it does not fit in `i64`.
    pub fn peek_i64<P: Port>(&mut self, p: P) -> i64 {
        let mut buf = [0u64; MAX_WORDS];
        let n = self.read(p, &mut buf);
        let w = p.width();
        if w < 64 {
            let x = buf[0];
            return if p.signed() {
                ((x << (64 - w)) as i64) >> (64 - w)
            } else {
                x as i64
            };
        }
        let v = Value::from_words_truncating(w, &buf[..n]);
        let r = if p.signed() {
            v.to_i64()
        } else {
            v.to_u64().and_then(|x| i64::try_from(x).ok())
        };
        match r {
            Some(x) => x,
            None => panic!(
                "peek_i64 of port `{}` of `{}`: value {v:?} does not fit in i64",
                self.name_of(p),
                self.spec.name
            ),
        }
    }

    /// Settle combinational logic now (peeks do this on their own when needed).
    pub fn eval(&mut self) {
        // SAFETY: `handle` is live.
        unsafe { (self.api.eval)(self.handle) };
        self.dirty = false;
    }

    /// One clock cycle: rising edge, then falling edge.
    pub fn tick(&mut self) {
        self.ticks(1);
    }

    /// `n` clock cycles.
    pub fn ticks(&mut self, n: u64) {
        // SAFETY: `handle` is live.
        unsafe { (self.api.tick)(self.handle, n) };
        self.cycle += n;
        self.dirty = false;
    }

    /// Clock cycles ticked since creation (reset cycles included).
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Hold `rst` high for `n` cycles, then release it. Modules without a reset are left
    /// alone (no cycles pass); returns whether the module has a reset.
    pub fn reset(&mut self, n: u64) -> bool {
        if !self.spec.has_reset {
            return false;
        }
        // SAFETY: `handle` is live.
        unsafe { (self.api.set_reset)(self.handle, 1) };
        self.ticks(n);
        // SAFETY: as above.
        unsafe { (self.api.set_reset)(self.handle, 0) };
        self.dirty = true;
        true
    }
}

impl Drop for Dut {
    fn drop(&mut self) {
        // SAFETY: `handle` came from `create` and is destroyed exactly once; `api` (and
        // the library) are still alive because `self.api` is dropped after this.
        unsafe { (self.api.destroy)(self.handle) };
    }
}

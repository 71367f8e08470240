//! The accelerator's AXI4-Lite control registers (`s_axi_control`), defined once.
//!
//! The layout follows Vitis HLS (GUIDE §7): `ap_ctrl` at 0x00, GIE, IER and ISR at
//! 0x04..0x0C, arguments from 0x10 with 64-bit values as lo/hi pairs. Beyond HLS: an
//! error code and the faulting instruction, the watchdog limit, an identification
//! word and performance counters. The hardware generator, the simulation drivers and
//! the documentation all read [`REGISTERS`]; nothing else lists them.
//!
//! Every register is 32 bits. Reads of unmapped addresses and writes to them (or to
//! read-only registers) answer SLVERR and change nothing; `wstrb` selects the bytes
//! written.

/// How software may access a register, and what access does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read/write.
    ReadWrite,
    /// Read-only (writes answer SLVERR).
    ReadOnly,
    /// `ap_ctrl`: bit 0 `ap_start` (write 1 to start; reads 1 until the accelerator
    /// takes the start), bit 1 `ap_done` (set when a run ends, cleared by reading
    /// this register), bit 2 `ap_idle`, bit 3 `ap_ready` (set when a start is taken,
    /// cleared by reading), bit 7 `auto_restart` (read/write).
    Control,
    /// ISR: a bit written with 1 toggles.
    ToggleOnWrite,
}

/// One register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// Name, lower-case (C macros upper-case it).
    pub name: &'static str,
    /// Byte offset.
    pub offset: u32,
    /// Access.
    pub access: Access,
    /// Bits that exist (others read 0 and ignore writes).
    pub mask: u32,
    /// Value after reset.
    pub reset: u32,
    /// One-line description.
    pub doc: &'static str,
}

/// Identification word at [`ID`]: `0xACC6` in the high half, the ISA version in
/// the low byte.
pub const ID_VALUE: u32 = 0xACC6_0000 | crate::isa::VERSION as u32;

/// `ap_ctrl` bits.
pub mod ctrl {
    /// Start.
    pub const AP_START: u32 = 1 << 0;
    /// A run finished (clear on read).
    pub const AP_DONE: u32 = 1 << 1;
    /// Not running.
    pub const AP_IDLE: u32 = 1 << 2;
    /// The start was taken (clear on read).
    pub const AP_READY: u32 = 1 << 3;
    /// Start again whenever a run finishes.
    pub const AUTO_RESTART: u32 = 1 << 7;
}

/// Interrupt bits of IER and ISR.
pub mod irq {
    /// `ap_done`.
    pub const DONE: u32 = 1 << 0;
    /// `ap_ready`.
    pub const READY: u32 = 1 << 1;
}

macro_rules! regs {
    ($($id:ident = $name:literal @ $off:literal, $acc:ident, $mask:literal, $reset:expr, $doc:literal;)*) => {
        $(
            #[doc = concat!("Offset of `", $name, "`: ", $doc)]
            pub const $id: u32 = $off;
        )*
        /// Every register, by offset.
        pub const REGISTERS: &[Register] = &[
            $(Register { name: $name, offset: $off, access: Access::$acc, mask: $mask, reset: $reset, doc: $doc },)*
        ];
    };
}

regs! {
    AP_CTRL = "ap_ctrl" @ 0x00, Control, 0x8f, ctrl::AP_IDLE, "ap_start, ap_done, ap_idle, ap_ready, auto_restart";
    GIE = "gie" @ 0x04, ReadWrite, 0x1, 0, "global interrupt enable";
    IER = "ier" @ 0x08, ReadWrite, 0x3, 0, "interrupt enable: bit 0 done, bit 1 ready";
    ISR = "isr" @ 0x0c, ToggleOnWrite, 0x3, 0, "interrupt status: bit 0 done, bit 1 ready; write 1 to toggle";
    PROG_ADDR_LO = "prog_addr_lo" @ 0x10, ReadWrite, 0xffff_ffff, 0, "program address, bits 31:0";
    PROG_ADDR_HI = "prog_addr_hi" @ 0x14, ReadWrite, 0xffff_ffff, 0, "program address, bits 63:32";
    PROG_LEN = "prog_len" @ 0x18, ReadWrite, 0xffff_ffff, 0, "program length in instructions";
    DRAM_BASE_LO = "dram_base_lo" @ 0x20, ReadWrite, 0xffff_ffff, 0, "DRAM base of instruction addresses, bits 31:0";
    DRAM_BASE_HI = "dram_base_hi" @ 0x24, ReadWrite, 0xffff_ffff, 0, "DRAM base of instruction addresses, bits 63:32";
    WATCHDOG = "watchdog" @ 0x28, ReadWrite, 0xffff_ffff, 0, "cycles without progress before the watchdog error; 0 = [accel].watchdog_cycles";
    ERROR_CODE = "error_code" @ 0x30, ReadOnly, 0xff, 0, "error of the last run: 0 none, 1 illegal instruction, 2 address range, 3 AXI, 4 watchdog, 5 parameter";
    ERROR_INDEX = "error_index" @ 0x34, ReadOnly, 0xffff_ffff, 0, "instruction index of the last error";
    ID = "id" @ 0x3c, ReadOnly, 0xffff_ffff, ID_VALUE, "0xACC6 and the ISA version";
    CYCLES_LO = "cycles_lo" @ 0x40, ReadOnly, 0xffff_ffff, 0, "cycles of the last run, bits 31:0";
    CYCLES_HI = "cycles_hi" @ 0x44, ReadOnly, 0xffff_ffff, 0, "cycles of the last run, bits 63:32";
    BUSY_LOAD_LO = "busy_load_lo" @ 0x48, ReadOnly, 0xffff_ffff, 0, "cycles the load engine was busy, bits 31:0";
    BUSY_LOAD_HI = "busy_load_hi" @ 0x4c, ReadOnly, 0xffff_ffff, 0, "cycles the load engine was busy, bits 63:32";
    BUSY_COMPUTE_LO = "busy_compute_lo" @ 0x50, ReadOnly, 0xffff_ffff, 0, "cycles the compute engine was busy, bits 31:0";
    BUSY_COMPUTE_HI = "busy_compute_hi" @ 0x54, ReadOnly, 0xffff_ffff, 0, "cycles the compute engine was busy, bits 63:32";
    BUSY_STORE_LO = "busy_store_lo" @ 0x58, ReadOnly, 0xffff_ffff, 0, "cycles the store engine was busy, bits 31:0";
    BUSY_STORE_HI = "busy_store_hi" @ 0x5c, ReadOnly, 0xffff_ffff, 0, "cycles the store engine was busy, bits 63:32";
    BYTES_READ_LO = "bytes_read_lo" @ 0x60, ReadOnly, 0xffff_ffff, 0, "DRAM bytes read, bits 31:0";
    BYTES_READ_HI = "bytes_read_hi" @ 0x64, ReadOnly, 0xffff_ffff, 0, "DRAM bytes read, bits 63:32";
    BYTES_WRITTEN_LO = "bytes_written_lo" @ 0x68, ReadOnly, 0xffff_ffff, 0, "DRAM bytes written, bits 31:0";
    BYTES_WRITTEN_HI = "bytes_written_hi" @ 0x6c, ReadOnly, 0xffff_ffff, 0, "DRAM bytes written, bits 63:32";
}

/// Address bits of `s_axi_control` (the map spans 0x00..0x80).
pub const ADDR_BITS: u32 = 7;

/// The register at `offset`, if any.
pub fn at(offset: u32) -> Option<&'static Register> {
    REGISTERS.iter().find(|r| r.offset == offset)
}

/// The register named `name`, if any.
pub fn named(name: &str) -> Option<&'static Register> {
    REGISTERS.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_distinct_aligned_and_in_range() {
        for (i, r) in REGISTERS.iter().enumerate() {
            assert_eq!(r.offset % 4, 0, "{}", r.name);
            assert!(r.offset < 1 << ADDR_BITS, "{}", r.name);
            assert_eq!(r.reset & !r.mask, 0, "{}", r.name);
            for q in &REGISTERS[i + 1..] {
                assert_ne!(r.offset, q.offset, "{} and {}", r.name, q.name);
                assert_ne!(r.name, q.name);
            }
        }
        // The HLS block is where Vitis and PYNQ look for it.
        assert_eq!((AP_CTRL, GIE, IER, ISR), (0x00, 0x04, 0x08, 0x0c));
        assert_eq!(at(0x10).unwrap().name, "prog_addr_lo");
        assert_eq!(named("id").unwrap().reset, 0xACC6_0001);
        assert!(at(0x1c).is_none());
    }
}

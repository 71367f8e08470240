//! What the harness needs to know about a top module ([`TopSpec`]), and the check
//! that Verilator's generated model class exposes exactly those ports.
//!
//! The C++ wrapper addresses ports as members of the model class. Verilator names a
//! member after the port, except that it escapes a `_` following another `_` as
//! `__05F` (and prefixes C++ keywords with `__SYM__`, behind a fatal lint warning).
//! [`member_name`] mirrors that rule; `check_header` reads the `VL_IN*`/`VL_OUT*`
//! declarations of `V<top>.h` so that a disagreement is a clear error instead of a C++
//! compile failure or, worse, an undriven clock.

use accgen_hw::rtl::{Dir, Module, PortInfo};

use crate::error::{SimError, SimResult};

/// Interface of a top module as seen from the simulator: its ports (port index = position
/// in `ports`, as in `Module::ports()`), and whether it has `clk` and `rst` inputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopSpec {
    /// Verilog module name.
    pub name: String,
    /// Ports without `clk` and `rst`, in declaration order.
    pub ports: Vec<PortInfo>,
    /// True when the module has a `clk` input.
    pub has_clock: bool,
    /// True when the module has an active-high synchronous `rst` input.
    pub has_reset: bool,
}

impl TopSpec {
    /// The interface of a finished module.
    pub fn of(m: &Module) -> TopSpec {
        TopSpec {
            name: m.name().to_string(),
            ports: m.ports().to_vec(),
            has_clock: m.has_clock(),
            has_reset: m.has_reset(),
        }
    }

    /// Index of the port called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// `a (in 8 SInt), acc (out 32 SInt), ...`: for error messages.
    pub fn port_list(&self) -> String {
        self.ports
            .iter()
            .map(|p| {
                format!(
                    "{} ({} {} {})",
                    p.name,
                    dir_word(p.dir),
                    p.width,
                    if p.signed { "SInt" } else { "UInt" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `input` or `output`.
pub(crate) fn dir_word(d: Dir) -> &'static str {
    match d {
        Dir::Input => "input",
        Dir::Output => "output",
    }
}

const CXX_KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "auto",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "class",
    "compl",
    "const",
    "constexpr",
    "const_cast",
    "continue",
    "decltype",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "register",
    "reinterpret_cast",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "static_cast",
    "struct",
    "switch",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
];

/// The C++ member name Verilator 5 gives a port called `port`.
pub fn member_name(port: &str) -> String {
    if CXX_KEYWORDS.contains(&port) {
        return format!("__SYM__{port}");
    }
    let mut out = String::with_capacity(port.len());
    for c in port.chars() {
        if c == '_' && out.ends_with('_') {
            out.push_str("__05F");
        } else {
            out.push(c);
        }
    }
    out
}

/// One `VL_IN*`/`VL_OUT*` declaration of a generated model header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderPort {
    pub member: String,
    pub dir: Dir,
    pub width: u32,
}

/// Parse the port declarations of `V<top>.h`.
pub(crate) fn parse_header(text: &str) -> Vec<HeaderPort> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (dir, rest) = if let Some(r) = line.strip_prefix("VL_IN") {
            (Dir::Input, r)
        } else if let Some(r) = line.strip_prefix("VL_OUT") {
            (Dir::Output, r)
        } else {
            continue;
        };
        let Some(open) = rest.find("(&") else {
            continue;
        };
        let args: Vec<&str> = rest[open + 2..]
            .trim_end_matches(';')
            .trim_end_matches(')')
            .split(',')
            .map(str::trim)
            .collect();
        if args.len() < 3 {
            continue;
        }
        let (Ok(msb), Ok(lsb)) = (args[1].parse::<u32>(), args[2].parse::<u32>()) else {
            continue;
        };
        out.push(HeaderPort {
            member: args[0].to_string(),
            dir,
            width: msb.abs_diff(lsb) + 1,
        });
    }
    out
}

/// Check that the model header declares exactly the spec's ports plus `clk`/`rst`.
pub(crate) fn check_header(spec: &TopSpec, header: &str) -> SimResult<()> {
    let found = parse_header(header);
    let mismatch = |message: String| SimError::PortMismatch {
        top: spec.name.clone(),
        message,
    };
    let mut expected: Vec<(String, String, Dir, u32)> = Vec::new();
    if spec.has_clock {
        expected.push(("clk".into(), "clk".into(), Dir::Input, 1));
    }
    if spec.has_reset {
        expected.push(("rst".into(), "rst".into(), Dir::Input, 1));
    }
    for p in &spec.ports {
        expected.push((p.name.clone(), member_name(&p.name), p.dir, p.width));
    }
    for (name, member, dir, width) in &expected {
        match found.iter().find(|h| &h.member == member) {
            None => {
                return Err(mismatch(format!(
                "port `{name}` (C++ member `{member}`) is missing from the model; it declares: {}",
                found
                    .iter()
                    .map(|h| h.member.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
            }
            Some(h) if h.dir != *dir || h.width != *width => {
                return Err(mismatch(format!(
                    "port `{name}` is {} {} bits in the module but {} {} bits in the model",
                    dir_word(*dir),
                    width,
                    dir_word(h.dir),
                    h.width
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found
        .iter()
        .find(|h| !expected.iter().any(|(_, m, _, _)| *m == h.member))
    {
        return Err(mismatch(format!(
            "the model has a port `{}` the module does not declare (is has_clock/has_reset right?)",
            extra.member
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_follow_verilator() {
        // Observed with Verilator 5.006.
        assert_eq!(member_name("_x"), "_x");
        assert_eq!(member_name("__x"), "___05Fx");
        assert_eq!(member_name("a__b"), "a___05Fb");
        assert_eq!(member_name("a___b"), "a___05F_b");
        assert_eq!(member_name("d_1_"), "d_1_");
        assert_eq!(member_name("delete"), "__SYM__delete");
    }

    fn spec() -> TopSpec {
        TopSpec {
            name: "t".into(),
            ports: vec![
                PortInfo {
                    name: "a__b".into(),
                    dir: Dir::Input,
                    width: 100,
                    signed: false,
                },
                PortInfo {
                    name: "y".into(),
                    dir: Dir::Output,
                    width: 8,
                    signed: true,
                },
            ],
            has_clock: true,
            has_reset: false,
        }
    }

    #[test]
    fn header_check_accepts_match_and_names_the_difference() {
        let good = "  VL_IN8(&clk,0,0);\n  VL_INW(&a___05Fb,99,0,4);\n  VL_OUT8(&y,7,0);\n";
        check_header(&spec(), good).unwrap();
        let narrow = good.replace("99,0,4", "98,0,4");
        let e = check_header(&spec(), &narrow).unwrap_err().to_string();
        assert!(
            e.contains("`a__b` is input 100 bits") && e.contains("99 bits"),
            "{e}"
        );
        let extra = format!("{good}  VL_IN8(&rst,0,0);\n");
        let e = check_header(&spec(), &extra).unwrap_err().to_string();
        assert!(e.contains("`rst`"), "{e}");
        let e = check_header(&spec(), "VL_OUT8(&y,7,0);")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`clk`"), "{e}");
    }
}

// Simulation model of the Lattice ECP5 MULT18X18D (18x18 multiplier with input, pipeline and output registers), which
// accgen instantiates with `--vendor ecp5`.
//
// Written for accgen from the behaviour Lattice documents (TN1264, ECP5 memory usage
// guide; TN1267, ECP5 sysDSP usage guide); they are not Lattice's models. They cover
// the subset accgen uses, and an instance outside it stops the simulation:
// - DP16KD: DATA_WIDTH 18 on both ports (1024 words; ADx[13:4] is the word address,
//   ADx[1:0] are the byte write enables), REGMODE NOREG or OUTREG, WRITEMODE NORMAL
//   (a write leaves the port's read data unchanged), CSDECODE 0b000 with the chip
//   selects tied low, synchronous RSTx clearing the read data, INITVAL_00..3F with
//   word 16*k+i in bits [20*i +: 18] of INITVAL_k. A read of an address the other
//   port writes in the same cycle returns the old word.
// - MULT18X18D: A and B from the A/B pins (SOURCEA = SOURCEB = 0), SIGNEDA/SIGNEDB
//   choosing two's complement or unsigned operands, each of the input, pipeline and
//   output registers either absent ("NONE") or on CLK0/CE0/RST0 (RST0 synchronous).
//   The sign controls travel with their operand registers. P is the 36-bit product.
// These files are for simulation only: synthesis uses the tool's own cell library.
`default_nettype none

/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
/* verilator lint_off WIDTH */
module MULT18X18D (
  input  wire A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input  wire B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input  wire C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input  wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CE0, RST0,
  output wire P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";

  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  reg  [17:0] a_q, b_q;
  reg         sa_q, sb_q;
  reg  [35:0] pipe_q, out_q;
  initial begin
    if ((REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0")
        || (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0")
        || (REG_PIPELINE_CLK != "NONE" && REG_PIPELINE_CLK != "CLK0")
        || (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0")
        || SOURCEA || SOURCEB || MULT_BYPASS != "DISABLED" || RESETMODE != "SYNC") begin
      $display("MULT18X18D %m: configuration outside the accgen model's subset");
      $finish;
    end
    a_q = 18'd0; b_q = 18'd0; sa_q = 1'b0; sb_q = 1'b0; pipe_q = 36'd0; out_q = 36'd0;
  end
  always @(posedge CLK0) begin
    if (RST0) begin
      a_q <= 18'd0; b_q <= 18'd0; sa_q <= 1'b0; sb_q <= 1'b0;
    end else if (CE0) begin
      a_q <= a; b_q <= b; sa_q <= SIGNEDA; sb_q <= SIGNEDB;
    end
  end
  wire [17:0] a_in = REG_INPUTA_CLK == "CLK0" ? a_q : a;
  wire        sa_in = REG_INPUTA_CLK == "CLK0" ? sa_q : SIGNEDA;
  wire [17:0] b_in = REG_INPUTB_CLK == "CLK0" ? b_q : b;
  wire        sb_in = REG_INPUTB_CLK == "CLK0" ? sb_q : SIGNEDB;
  wire [35:0] a_ext = {{18{sa_in & a_in[17]}}, a_in};
  wire [35:0] b_ext = {{18{sb_in & b_in[17]}}, b_in};
  wire [35:0] prod = a_ext * b_ext;
  always @(posedge CLK0) begin
    if (RST0) pipe_q <= 36'd0;
    else if (CE0) pipe_q <= prod;
  end
  wire [35:0] mid = REG_PIPELINE_CLK == "CLK0" ? pipe_q : prod;
  always @(posedge CLK0) begin
    if (RST0) out_q <= 36'd0;
    else if (CE0) out_q <= mid;
  end
  wire [35:0] p = REG_OUTPUT_CLK == "CLK0" ? out_q : mid;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
/* verilator lint_on WIDTH */
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */

`default_nettype wire

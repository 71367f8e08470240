// Simulation model of the Lattice ECP5 DP16KD (16 Kbit true dual-port block RAM), which
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
/* verilator lint_off MULTIDRIVEN */
/* verilator lint_off WIDTH */
module DP16KD (
  input  wire DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input  wire ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input  wire CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
  output wire DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input  wire DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input  wire ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input  wire CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
  output wire DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter GSR = "ENABLED";
  parameter INIT_DATA = "STATIC";
  parameter [319:0] INITVAL_00 = 320'h0;
  parameter [319:0] INITVAL_01 = 320'h0;
  parameter [319:0] INITVAL_02 = 320'h0;
  parameter [319:0] INITVAL_03 = 320'h0;
  parameter [319:0] INITVAL_04 = 320'h0;
  parameter [319:0] INITVAL_05 = 320'h0;
  parameter [319:0] INITVAL_06 = 320'h0;
  parameter [319:0] INITVAL_07 = 320'h0;
  parameter [319:0] INITVAL_08 = 320'h0;
  parameter [319:0] INITVAL_09 = 320'h0;
  parameter [319:0] INITVAL_0A = 320'h0;
  parameter [319:0] INITVAL_0B = 320'h0;
  parameter [319:0] INITVAL_0C = 320'h0;
  parameter [319:0] INITVAL_0D = 320'h0;
  parameter [319:0] INITVAL_0E = 320'h0;
  parameter [319:0] INITVAL_0F = 320'h0;
  parameter [319:0] INITVAL_10 = 320'h0;
  parameter [319:0] INITVAL_11 = 320'h0;
  parameter [319:0] INITVAL_12 = 320'h0;
  parameter [319:0] INITVAL_13 = 320'h0;
  parameter [319:0] INITVAL_14 = 320'h0;
  parameter [319:0] INITVAL_15 = 320'h0;
  parameter [319:0] INITVAL_16 = 320'h0;
  parameter [319:0] INITVAL_17 = 320'h0;
  parameter [319:0] INITVAL_18 = 320'h0;
  parameter [319:0] INITVAL_19 = 320'h0;
  parameter [319:0] INITVAL_1A = 320'h0;
  parameter [319:0] INITVAL_1B = 320'h0;
  parameter [319:0] INITVAL_1C = 320'h0;
  parameter [319:0] INITVAL_1D = 320'h0;
  parameter [319:0] INITVAL_1E = 320'h0;
  parameter [319:0] INITVAL_1F = 320'h0;
  parameter [319:0] INITVAL_20 = 320'h0;
  parameter [319:0] INITVAL_21 = 320'h0;
  parameter [319:0] INITVAL_22 = 320'h0;
  parameter [319:0] INITVAL_23 = 320'h0;
  parameter [319:0] INITVAL_24 = 320'h0;
  parameter [319:0] INITVAL_25 = 320'h0;
  parameter [319:0] INITVAL_26 = 320'h0;
  parameter [319:0] INITVAL_27 = 320'h0;
  parameter [319:0] INITVAL_28 = 320'h0;
  parameter [319:0] INITVAL_29 = 320'h0;
  parameter [319:0] INITVAL_2A = 320'h0;
  parameter [319:0] INITVAL_2B = 320'h0;
  parameter [319:0] INITVAL_2C = 320'h0;
  parameter [319:0] INITVAL_2D = 320'h0;
  parameter [319:0] INITVAL_2E = 320'h0;
  parameter [319:0] INITVAL_2F = 320'h0;
  parameter [319:0] INITVAL_30 = 320'h0;
  parameter [319:0] INITVAL_31 = 320'h0;
  parameter [319:0] INITVAL_32 = 320'h0;
  parameter [319:0] INITVAL_33 = 320'h0;
  parameter [319:0] INITVAL_34 = 320'h0;
  parameter [319:0] INITVAL_35 = 320'h0;
  parameter [319:0] INITVAL_36 = 320'h0;
  parameter [319:0] INITVAL_37 = 320'h0;
  parameter [319:0] INITVAL_38 = 320'h0;
  parameter [319:0] INITVAL_39 = 320'h0;
  parameter [319:0] INITVAL_3A = 320'h0;
  parameter [319:0] INITVAL_3B = 320'h0;
  parameter [319:0] INITVAL_3C = 320'h0;
  parameter [319:0] INITVAL_3D = 320'h0;
  parameter [319:0] INITVAL_3E = 320'h0;
  parameter [319:0] INITVAL_3F = 320'h0;

  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  reg  [17:0] mem [0:1023];
  reg  [17:0] lat_a, lat_b, out_a, out_b;
  integer i;
  initial begin
    if (DATA_WIDTH_A != 18 || DATA_WIDTH_B != 18 || WRITEMODE_A != "NORMAL"
        || WRITEMODE_B != "NORMAL" || RESETMODE != "SYNC") begin
      $display("DP16KD %m: configuration outside the accgen model's subset");
      $finish;
    end
    for (i = 0; i < 16; i = i + 1) begin
      mem[0 + i] = INITVAL_00[20*i +: 18];
      mem[16 + i] = INITVAL_01[20*i +: 18];
      mem[32 + i] = INITVAL_02[20*i +: 18];
      mem[48 + i] = INITVAL_03[20*i +: 18];
      mem[64 + i] = INITVAL_04[20*i +: 18];
      mem[80 + i] = INITVAL_05[20*i +: 18];
      mem[96 + i] = INITVAL_06[20*i +: 18];
      mem[112 + i] = INITVAL_07[20*i +: 18];
      mem[128 + i] = INITVAL_08[20*i +: 18];
      mem[144 + i] = INITVAL_09[20*i +: 18];
      mem[160 + i] = INITVAL_0A[20*i +: 18];
      mem[176 + i] = INITVAL_0B[20*i +: 18];
      mem[192 + i] = INITVAL_0C[20*i +: 18];
      mem[208 + i] = INITVAL_0D[20*i +: 18];
      mem[224 + i] = INITVAL_0E[20*i +: 18];
      mem[240 + i] = INITVAL_0F[20*i +: 18];
      mem[256 + i] = INITVAL_10[20*i +: 18];
      mem[272 + i] = INITVAL_11[20*i +: 18];
      mem[288 + i] = INITVAL_12[20*i +: 18];
      mem[304 + i] = INITVAL_13[20*i +: 18];
      mem[320 + i] = INITVAL_14[20*i +: 18];
      mem[336 + i] = INITVAL_15[20*i +: 18];
      mem[352 + i] = INITVAL_16[20*i +: 18];
      mem[368 + i] = INITVAL_17[20*i +: 18];
      mem[384 + i] = INITVAL_18[20*i +: 18];
      mem[400 + i] = INITVAL_19[20*i +: 18];
      mem[416 + i] = INITVAL_1A[20*i +: 18];
      mem[432 + i] = INITVAL_1B[20*i +: 18];
      mem[448 + i] = INITVAL_1C[20*i +: 18];
      mem[464 + i] = INITVAL_1D[20*i +: 18];
      mem[480 + i] = INITVAL_1E[20*i +: 18];
      mem[496 + i] = INITVAL_1F[20*i +: 18];
      mem[512 + i] = INITVAL_20[20*i +: 18];
      mem[528 + i] = INITVAL_21[20*i +: 18];
      mem[544 + i] = INITVAL_22[20*i +: 18];
      mem[560 + i] = INITVAL_23[20*i +: 18];
      mem[576 + i] = INITVAL_24[20*i +: 18];
      mem[592 + i] = INITVAL_25[20*i +: 18];
      mem[608 + i] = INITVAL_26[20*i +: 18];
      mem[624 + i] = INITVAL_27[20*i +: 18];
      mem[640 + i] = INITVAL_28[20*i +: 18];
      mem[656 + i] = INITVAL_29[20*i +: 18];
      mem[672 + i] = INITVAL_2A[20*i +: 18];
      mem[688 + i] = INITVAL_2B[20*i +: 18];
      mem[704 + i] = INITVAL_2C[20*i +: 18];
      mem[720 + i] = INITVAL_2D[20*i +: 18];
      mem[736 + i] = INITVAL_2E[20*i +: 18];
      mem[752 + i] = INITVAL_2F[20*i +: 18];
      mem[768 + i] = INITVAL_30[20*i +: 18];
      mem[784 + i] = INITVAL_31[20*i +: 18];
      mem[800 + i] = INITVAL_32[20*i +: 18];
      mem[816 + i] = INITVAL_33[20*i +: 18];
      mem[832 + i] = INITVAL_34[20*i +: 18];
      mem[848 + i] = INITVAL_35[20*i +: 18];
      mem[864 + i] = INITVAL_36[20*i +: 18];
      mem[880 + i] = INITVAL_37[20*i +: 18];
      mem[896 + i] = INITVAL_38[20*i +: 18];
      mem[912 + i] = INITVAL_39[20*i +: 18];
      mem[928 + i] = INITVAL_3A[20*i +: 18];
      mem[944 + i] = INITVAL_3B[20*i +: 18];
      mem[960 + i] = INITVAL_3C[20*i +: 18];
      mem[976 + i] = INITVAL_3D[20*i +: 18];
      mem[992 + i] = INITVAL_3E[20*i +: 18];
      mem[1008 + i] = INITVAL_3F[20*i +: 18];
    end
    lat_a = 18'd0; lat_b = 18'd0; out_a = 18'd0; out_b = 18'd0;
  end
  wire sel_a = {CSA2, CSA1, CSA0} == 3'b000;
  wire sel_b = {CSB2, CSB1, CSB0} == 3'b000;
  always @(posedge CLKA) begin
    if (CEA && sel_a) begin
      if (WEA) begin
        if (ada[0]) mem[ada[13:4]][8:0] <= dia[8:0];
        if (ada[1]) mem[ada[13:4]][17:9] <= dia[17:9];
      end else begin
        lat_a <= mem[ada[13:4]];
      end
    end
    if (RSTA) lat_a <= 18'd0;
    if (RSTA) out_a <= 18'd0;
    else if (OCEA) out_a <= lat_a;
  end
  always @(posedge CLKB) begin
    if (CEB && sel_b) begin
      if (WEB) begin
        if (adb[0]) mem[adb[13:4]][8:0] <= dib[8:0];
        if (adb[1]) mem[adb[13:4]][17:9] <= dib[17:9];
      end else begin
        lat_b <= mem[adb[13:4]];
      end
    end
    if (RSTB) lat_b <= 18'd0;
    if (RSTB) out_b <= 18'd0;
    else if (OCEB) out_b <= lat_b;
  end
  wire [17:0] doa = REGMODE_A == "OUTREG" ? out_a : lat_a;
  wire [17:0] dob = REGMODE_B == "OUTREG" ? out_b : lat_b;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
/* verilator lint_on WIDTH */
/* verilator lint_on MULTIDRIVEN */
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */

`default_nettype wire

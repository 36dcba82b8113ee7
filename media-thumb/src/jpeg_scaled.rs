//! A JPEG decoder for one job only: the common camera JPEG (baseline Huffman, 8-bit, grey or
//! YCbCr/RGB, one interleaved scan) decoded straight to 1/2, 1/4 or 1/8 of its size.
//!
//! Why not only `jpeg-decoder`: a thumbnail of a 12 MP photo spends three quarters of its time
//! in entropy decoding, and `jpeg-decoder` reads the scan a byte at a time through `Read`.
//! Here the scan is a slice, the bit buffer is refilled eight bytes at a time when no `0xFF`
//! is near, and coefficients the reduced IDCT does not use are skipped, not stored.
//!
//! Anything else (progressive, arithmetic coding, 12-bit, CMYK, several scans, full scale) is
//! declined with [`Outcome::Declined`], and so is everything this decoder finds wrong with the
//! data: the caller then hands the bytes to `jpeg-decoder`, whose verdict stands. So this path
//! only ever has to be right about valid files; it never has to be the one that judges bad
//! ones. Every index is bounds-checked and all arithmetic on decoded values is clamped or
//! wrapping: hostile input cannot make it panic.

/// Pixels decoded at reduced scale, RGB, row-major, no padding.
#[derive(Debug)]
pub(crate) struct Scaled {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// What the fast path made of the input.
#[derive(Debug)]
pub(crate) enum Outcome {
    Decoded(Scaled),
    /// Not a JPEG this path handles, or data it finds wrong; the reason is for logs.
    Declined(String),
}

/// Decodes `data` so that every 8×8 block becomes `block`×`block` pixels (`block` ∈ {1, 2, 4}).
/// Planes larger than `max_alloc` bytes in total are declined before they are allocated.
pub(crate) fn decode(data: &[u8], block: usize, max_alloc: u64) -> Outcome {
    if !matches!(block, 1 | 2 | 4) {
        return Outcome::Declined(format!("no fast path at {block}/8 scale"));
    }
    match Parser::default().run(data, block, max_alloc) {
        Ok(scaled) => Outcome::Decoded(scaled),
        Err(reason) => Outcome::Declined(reason),
    }
}

type Res<T> = Result<T, String>;

const BAD_CODE: &str = "bad Huffman code";

/// JPEG zigzag order: position in the scan → index in the natural (row-major) 8×8 block.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

const FAST_BITS: u32 = 9;
/// Lookahead of the skip table: a code and its value bits together, up to this many bits.
const SKIP_BITS: u32 = 12;
/// Skip-table step meaning end of block.
const END_OF_BLOCK: usize = 0x7F;

/// A Huffman code that no table entry matches.
#[derive(Debug)]
struct BadCode;

/// A Huffman table with a 9-bit lookahead for the short codes and canonical ranges for the rest.
struct Huffman {
    /// `length << 8 | symbol` for codes of up to `FAST_BITS` bits, 0 where a longer code starts.
    fast: [u16; 1 << FAST_BITS],
    /// For each length, one past the largest code of that length, left-aligned in 16 bits.
    max_code: [u32; 17],
    /// For each length, index of its first symbol minus its first code.
    delta: [i32; 17],
    symbols: [u8; 256],
    /// For AC tables: `step << 8 | total length` where a code plus its value bits fit in
    /// `SKIP_BITS`, so a skipped coefficient costs one lookup. 0 where they do not.
    skip: Box<[u16; 1 << SKIP_BITS]>,
}

impl Huffman {
    fn new(counts: &[u8; 16], symbols: &[u8]) -> Res<Huffman> {
        let mut table = Huffman {
            fast: [0; 1 << FAST_BITS],
            max_code: [0; 17],
            delta: [0; 17],
            symbols: [0; 256],
            skip: Box::new([0; 1 << SKIP_BITS]),
        };
        if symbols.len() > 256 {
            return Err("Huffman table with more than 256 symbols".into());
        }
        table.symbols[..symbols.len()].copy_from_slice(symbols);
        let mut code: u32 = 0;
        let mut index: usize = 0;
        for length in 1..=16u32 {
            let count = usize::from(counts[length as usize - 1]);
            table.delta[length as usize] = index as i32 - code as i32;
            for _ in 0..count {
                if code >= 1 << length {
                    return Err("Huffman code lengths overflow".into());
                }
                if length <= FAST_BITS {
                    let shift = FAST_BITS - length;
                    let first = (code << shift) as usize;
                    let entry = (length as u16) << 8 | u16::from(table.symbols[index]);
                    for slot in &mut table.fast[first..first + (1 << shift)] {
                        *slot = entry;
                    }
                }
                code += 1;
                index += 1;
            }
            table.max_code[length as usize] = code << (16 - length);
            code <<= 1;
        }
        // The skip table, from the codes again.
        let (mut code, mut index) = (0u32, 0usize);
        for length in 1..=16u32 {
            for _ in 0..counts[length as usize - 1] {
                let rs = table.symbols[index];
                let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                let step = match (run, size) {
                    (15, 0) => 16,
                    (_, 0) => END_OF_BLOCK as u32,
                    _ => run + 1,
                };
                let total = length + size;
                if total <= SKIP_BITS {
                    let shift = SKIP_BITS - length;
                    let first = (code << shift) as usize;
                    let entry = (step << 8 | total) as u16;
                    for slot in &mut table.skip[first..first + (1 << shift)] {
                        *slot = entry;
                    }
                }
                code += 1;
                index += 1;
            }
            code <<= 1;
        }
        Ok(table)
    }
}

/// The entropy-coded segment as a big-endian bit stream, `0xFF00` unstuffed, stopping at markers.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// Valid bits, left-aligned.
    acc: u64,
    count: u32,
    /// Zero bits appended after a marker or the end of data; consuming them means the scan
    /// was shorter than its header promised.
    padding: u32,
    stopped: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
            stopped: false,
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        // Fast path: eight bytes without 0xFF can be taken whole.
        if let Some(window) = self.data.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(window);
            let word = u64::from_be_bytes(word);
            let inverted = !word;
            let has_ff =
                inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080;
            if has_ff == 0 && !self.stopped {
                let take = (63 - self.count) / 8;
                if take == 0 {
                    return;
                }
                let kept = word >> (64 - 8 * take) << (64 - 8 * take);
                self.acc |= kept >> self.count;
                self.count += 8 * take;
                self.pos += take as usize;
                return;
            }
        }
        while self.count <= 56 {
            let byte = self.next_byte();
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline(always)]
    fn next_byte(&mut self) -> u8 {
        if !self.stopped {
            match self.data.get(self.pos) {
                Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0) => {
                    self.pos += 2;
                    return 0xFF;
                }
                Some(&0xFF) | None => self.stopped = true,
                Some(&byte) => {
                    self.pos += 1;
                    return byte;
                }
            }
        }
        self.padding += 8;
        0
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    #[inline(always)]
    fn decode(&mut self, table: &Huffman) -> Option<u8> {
        if self.count < 32 {
            self.refill();
        }
        let entry = table.fast[(self.acc >> (64 - FAST_BITS)) as usize];
        if entry != 0 {
            self.consume(u32::from(entry >> 8));
            return Some(entry as u8);
        }
        let (symbol, length) = decode_long(self.acc, table)?;
        self.consume(length);
        Some(symbol)
    }

    /// Steps over one AC coefficient the reduced IDCT does not use; returns how far the
    /// coefficient index moves (run + 1, 16 for ZRL) or `None` at end of block.
    #[inline(always)]
    fn skip_coefficient(&mut self, table: &Huffman) -> Result<Option<usize>, BadCode> {
        if self.count < 32 {
            self.refill();
        }
        let entry = table.skip[(self.acc >> (64 - SKIP_BITS)) as usize];
        if entry != 0 {
            self.consume(u32::from(entry & 31));
            let step = usize::from(entry >> 8);
            return Ok((step != END_OF_BLOCK).then_some(step));
        }
        let rs = self.decode(table).ok_or(BadCode)?;
        let (run, size) = (usize::from(rs >> 4), rs & 15);
        if size == 0 {
            return Ok((run == 15).then_some(16));
        }
        self.skip(size);
        Ok(Some(run + 1))
    }

    /// The signed value of the next `size` bits (JPEG's EXTEND). The caller made sure at least
    /// `size` ≤ 16 bits are buffered: `decode` refills to 57 bits before a symbol of ≤ 16.
    #[inline]
    fn value(&mut self, size: u8) -> i32 {
        if size == 0 {
            return 0;
        }
        let size = u32::from(size.min(16));
        let raw = (self.acc >> (64 - size)) as i32;
        self.consume(size);
        if raw < 1 << (size - 1) {
            raw - (1 << size) + 1
        } else {
            raw
        }
    }

    #[inline]
    fn skip(&mut self, size: u8) {
        self.consume(u32::from(size.min(16)));
    }

    fn overran(&self) -> bool {
        self.count < self.padding
    }

    /// At a restart interval's end: drop the partial byte and step over the `RSTn` marker.
    #[inline(always)]
    fn restart(&mut self) -> Res<()> {
        if self.overran() {
            return Err("scan data ends early".into());
        }
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
        self.stopped = false;
        while self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        match self.data.get(self.pos..self.pos + 2) {
            Some([0xFF, 0xD0..=0xD7]) => {
                self.pos += 2;
                Ok(())
            }
            _ => Err("restart marker missing".into()),
        }
    }
}

/// Codes longer than the lookahead: rare, so out of line, and pure so the bit buffer can stay
/// in registers. Returns the symbol and the code's length.
#[inline(never)]
fn decode_long(acc: u64, table: &Huffman) -> Option<(u8, u32)> {
    let code = (acc >> 48) as u32;
    for length in FAST_BITS + 1..=16 {
        if code < table.max_code[length as usize] {
            let index = (code >> (16 - length)) as i32 + table.delta[length as usize];
            let symbol = usize::try_from(index)
                .ok()
                .and_then(|i| table.symbols.get(i).copied())?;
            return Some((symbol, length));
        }
    }
    None
}

struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc: usize,
    ac: usize,
    /// Blocks per row and rows of blocks this component has in the scan.
    blocks_x: usize,
    blocks_y: usize,
    plane: Vec<u8>,
    prediction: i32,
}

#[derive(Default)]
struct Parser {
    quant: [Option<[i32; 64]>; 4],
    dc: [Option<Box<Huffman>>; 4],
    ac: [Option<Box<Huffman>>; 4],
    restart_interval: usize,
    adobe_transform: Option<u8>,
    jfif: bool,
    width: usize,
    height: usize,
    components: Vec<Component>,
}

fn u16_at(data: &[u8], at: usize) -> Res<usize> {
    match data.get(at..at + 2) {
        Some(&[a, b]) => Ok(usize::from(a) << 8 | usize::from(b)),
        _ => Err("header ends early".into()),
    }
}

impl Parser {
    fn run(mut self, data: &[u8], block: usize, max_alloc: u64) -> Res<Scaled> {
        if data.get(..2) != Some(&[0xFF, 0xD8]) {
            return Err("no SOI marker".into());
        }
        let mut pos = 2;
        loop {
            while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
                pos += 1;
            }
            let marker = match data.get(pos..pos + 2) {
                Some(&[0xFF, m]) => m,
                _ => return Err("marker expected".into()),
            };
            pos += 2;
            if matches!(marker, 0x01 | 0xD0..=0xD7) {
                continue;
            }
            if marker == 0xD9 {
                return Err("no scan before EOI".into());
            }
            let length = u16_at(data, pos)?;
            if length < 2 {
                return Err("segment length below 2".into());
            }
            let body = data
                .get(pos + 2..pos + length)
                .ok_or("segment runs past the end")?;
            match marker {
                0xC0 | 0xC1 => self.frame(body)?,
                0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                    return Err(format!("SOF{} (only baseline is fast)", marker - 0xC0))
                }
                0xC4 => self.huffman(body)?,
                0xDB => self.quantization(body)?,
                0xDD => self.restart_interval = u16_at(body, 0)?,
                0xE0 if body.starts_with(b"JFIF\0") => self.jfif = true,
                0xEE if body.starts_with(b"Adobe") => self.adobe_transform = body.get(11).copied(),
                0xDA => return self.scan(data, pos + length, body, block, max_alloc),
                _ => {}
            }
            pos += length;
        }
    }

    fn frame(&mut self, body: &[u8]) -> Res<()> {
        if !self.components.is_empty() {
            return Err("two frame headers".into());
        }
        if body.first() != Some(&8) {
            return Err("not 8-bit".into());
        }
        self.height = u16_at(body, 1)?;
        self.width = u16_at(body, 3)?;
        let count = usize::from(*body.get(5).ok_or("short frame header")?);
        if self.width == 0 || self.height == 0 {
            return Err("zero or deferred (DNL) dimensions".into());
        }
        if count != 1 && count != 3 {
            return Err(format!("{count} components"));
        }
        for c in 0..count {
            let spec = body.get(6 + 3 * c..9 + 3 * c).ok_or("short frame header")?;
            let (h, v) = (usize::from(spec[1] >> 4), usize::from(spec[1] & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || spec[2] > 3 {
                return Err("bad component sampling or table".into());
            }
            self.components.push(Component {
                id: spec[0],
                h,
                v,
                quant: usize::from(spec[2]),
                dc: 0,
                ac: 0,
                blocks_x: 0,
                blocks_y: 0,
                plane: Vec::new(),
                prediction: 0,
            });
        }
        Ok(())
    }

    fn huffman(&mut self, mut body: &[u8]) -> Res<()> {
        while let [class_id, rest @ ..] = body {
            let counts: [u8; 16] = rest
                .get(..16)
                .and_then(|c| c.try_into().ok())
                .ok_or("short Huffman table")?;
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let symbols = rest.get(16..16 + total).ok_or("short Huffman table")?;
            let table = Some(Box::new(Huffman::new(&counts, symbols)?));
            let id = usize::from(class_id & 15);
            match (class_id >> 4, id) {
                (0, 0..=3) => self.dc[id] = table,
                (1, 0..=3) => self.ac[id] = table,
                _ => return Err("bad Huffman table class or id".into()),
            }
            body = &rest[16 + total..];
        }
        Ok(())
    }

    fn quantization(&mut self, mut body: &[u8]) -> Res<()> {
        while let [precision_id, rest @ ..] = body {
            let id = usize::from(precision_id & 15);
            let wide = precision_id >> 4 == 1;
            let len = if wide { 128 } else { 64 };
            let values = rest.get(..len).ok_or("short quantization table")?;
            let mut table = [0i32; 64];
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                table[usize::from(natural)] = if wide {
                    i32::from(values[2 * k]) << 8 | i32::from(values[2 * k + 1])
                } else {
                    i32::from(values[k])
                };
            }
            *self.quant.get_mut(id).ok_or("bad quantization table id")? = Some(table);
            body = &rest[len..];
        }
        Ok(())
    }

    fn scan(
        mut self,
        data: &[u8],
        start: usize,
        header: &[u8],
        block: usize,
        max_alloc: u64,
    ) -> Res<Scaled> {
        if self.components.is_empty() {
            return Err("scan before frame header".into());
        }
        let count = usize::from(*header.first().ok_or("short scan header")?);
        if count != self.components.len() {
            return Err("more than one scan".into());
        }
        for i in 0..count {
            let spec = header
                .get(1 + 2 * i..3 + 2 * i)
                .ok_or("short scan header")?;
            let c = self
                .components
                .iter_mut()
                .find(|c| c.id == spec[0])
                .ok_or("scan names an unknown component")?;
            c.dc = usize::from(spec[1] >> 4);
            c.ac = usize::from(spec[1] & 15);
        }
        let tail = header.get(1 + 2 * count..4 + 2 * count);
        if tail != Some(&[0, 63, 0]) {
            return Err("not a sequential full-spectrum scan".into());
        }

        let h_max = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        let (mcus_x, mcus_y) = if count == 1 {
            // One component is never interleaved: an MCU is one block.
            let c = &self.components[0];
            let w = (self.width * c.h).div_ceil(h_max);
            let h = (self.height * c.v).div_ceil(v_max);
            (w.div_ceil(8), h.div_ceil(8))
        } else {
            (
                self.width.div_ceil(8 * h_max),
                self.height.div_ceil(8 * v_max),
            )
        };
        let mut total: u64 = 0;
        for c in &mut self.components {
            (c.blocks_x, c.blocks_y) = if count == 1 {
                (mcus_x, mcus_y)
            } else {
                (mcus_x * c.h, mcus_y * c.v)
            };
            total += (c.blocks_x * block * c.blocks_y * block) as u64;
        }
        let (out_w, out_h) = (
            (self.width * block).div_ceil(8),
            (self.height * block).div_ceil(8),
        );
        total += (out_w * out_h * 3) as u64;
        if total > max_alloc {
            return Err(format!(
                "{total} bytes of planes exceed the allocation limit"
            ));
        }
        for c in &mut self.components {
            c.plane = vec![0; c.blocks_x * block * c.blocks_y * block];
        }

        self.entropy_decode(data, start, mcus_x, mcus_y, count, block)?;
        self.to_rgb(out_w, out_h, h_max, v_max, block)
            .map(|rgb| Scaled {
                width: out_w as u32,
                height: out_h as u32,
                rgb,
            })
    }

    fn entropy_decode(
        &mut self,
        data: &[u8],
        start: usize,
        mcus_x: usize,
        mcus_y: usize,
        count: usize,
        block: usize,
    ) -> Res<()> {
        // Which decoded coefficient lands where in the block×block corner we keep.
        let mut slot = [u8::MAX; 64];
        let mut keep_until = 1;
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            let (row, col) = (usize::from(natural) / 8, usize::from(natural) % 8);
            if row < block && col < block {
                slot[k] = (row * block + col) as u8;
                keep_until = k + 1;
            }
        }
        let mut tables = Vec::with_capacity(self.components.len());
        for c in &self.components {
            let quant = self.quant[c.quant].ok_or("missing quantization table")?;
            let dc = self.dc.get(c.dc).and_then(|t| t.as_deref());
            let ac = self.ac.get(c.ac).and_then(|t| t.as_deref());
            let (Some(dc), Some(ac)) = (dc, ac) else {
                return Err("scan names a missing Huffman table".into());
            };
            tables.push((quant, dc, ac));
        }
        let mut bits = Bits::new(data, start);
        let mut coefficients = [0i32; 16];
        let mut left = self.restart_interval;
        for mcu_y in 0..mcus_y {
            for mcu_x in 0..mcus_x {
                if self.restart_interval > 0 {
                    if left == 0 {
                        bits.restart()?;
                        for c in &mut self.components {
                            c.prediction = 0;
                        }
                        left = self.restart_interval;
                    }
                    left -= 1;
                }
                for (c, (quant, dc, ac)) in self.components.iter_mut().zip(&tables) {
                    let (h, v) = if count == 1 { (1, 1) } else { (c.h, c.v) };
                    for by in 0..v {
                        for bx in 0..h {
                            coefficients[..block * block].fill(0);
                            // DC
                            let size = bits.decode(dc).ok_or(BAD_CODE)?;
                            if size > 11 {
                                return Err("DC difference too large".into());
                            }
                            c.prediction = (c.prediction + bits.value(size)).clamp(-4096, 4096);
                            coefficients[0] = c.prediction.saturating_mul(quant[0]);
                            // AC: the few coefficients the reduced IDCT uses are stored …
                            let mut k = 1;
                            while k < keep_until {
                                let rs = bits.decode(ac).ok_or(BAD_CODE)?;
                                let (run, size) = (usize::from(rs >> 4), rs & 15);
                                if size == 0 {
                                    if run != 15 {
                                        k = END_OF_BLOCK;
                                        break;
                                    }
                                    k += 16;
                                    continue;
                                }
                                k += run;
                                match slot.get(k) {
                                    Some(&s) if s != u8::MAX => {
                                        coefficients[usize::from(s)] = bits
                                            .value(size)
                                            .saturating_mul(quant[usize::from(ZIGZAG[k])]);
                                    }
                                    _ => bits.skip(size),
                                }
                                k += 1;
                            }
                            // … and the rest only stepped over.
                            while k < 64 {
                                match bits.skip_coefficient(ac).map_err(|_| BAD_CODE)? {
                                    Some(step) => k += step,
                                    None => k = END_OF_BLOCK,
                                }
                            }
                            if k > 64 && k != END_OF_BLOCK {
                                return Err("coefficient index past 63".into());
                            }
                            let x0 = (mcu_x * h + bx) * block;
                            let y0 = (mcu_y * v + by) * block;
                            let stride = c.blocks_x * block;
                            idct(&coefficients, block, &mut c.plane, y0 * stride + x0, stride);
                        }
                    }
                }
                if bits.overran() {
                    return Err("scan data ends early".into());
                }
            }
        }
        Ok(())
    }

    fn to_rgb(
        &self,
        out_w: usize,
        out_h: usize,
        h_max: usize,
        v_max: usize,
        block: usize,
    ) -> Res<Vec<u8>> {
        let is_rgb = match self.components.iter().map(|c| c.id).collect::<Vec<_>>()[..] {
            [_] => true,
            [b'R', b'G', b'B'] => true,
            [1, 34, 35] | [b'r', b'g', b'b'] => return Err("big-gamut colour".into()),
            _ => !self.jfif && self.adobe_transform == Some(0),
        };
        let mut samplers: Vec<Upsampler> = self
            .components
            .iter()
            .map(|c| Upsampler::new(c, out_w, out_h, h_max, v_max, block))
            .collect();
        let mut rgb = vec![0u8; out_w * out_h * 3];
        for (y, row) in rgb.chunks_exact_mut(out_w * 3).enumerate() {
            for (sampler, c) in samplers.iter_mut().zip(&self.components) {
                sampler.fill(&c.plane, y)?;
            }
            match &samplers[..] {
                [grey] => {
                    for (px, &l) in row.chunks_exact_mut(3).zip(&grey.line) {
                        px.copy_from_slice(&[l, l, l]);
                    }
                }
                [a, b, c] => {
                    let lines = a.line.iter().zip(&b.line).zip(&c.line);
                    for (px, ((&a, &b), &c)) in row.chunks_exact_mut(3).zip(lines) {
                        px.copy_from_slice(&if is_rgb { [a, b, c] } else { ycbcr(a, b, c) });
                    }
                }
                _ => return Err("unexpected component count".into()),
            }
        }
        Ok(rgb)
    }
}

/// One component's samples for an output row, at the output's resolution: subsampled
/// components are interpolated linearly between sample centres (libjpeg's "fancy"
/// upsampling for 2×), edges repeated.
struct Upsampler {
    stride: usize,
    /// (first, second, weight of second in 1/256) per output column; `None` at full resolution.
    columns: Option<Vec<(usize, usize, u16)>>,
    /// How many output rows share a source row, and how many source rows the image uses.
    v_ratio: usize,
    rows: usize,
    blended: Vec<u8>,
    line: Vec<u8>,
}

/// Where output sample `i` of `n` falls between the `of`-times-coarser source samples
/// (`count` of them): indices of the two neighbours and the second's weight in 1/256.
fn neighbours(i: usize, of: usize, count: usize) -> (usize, usize, u16) {
    let at = ((2 * i + 1) * 128 / of).saturating_sub(128);
    let first = (at >> 8).min(count.saturating_sub(1));
    let second = (first + 1).min(count.saturating_sub(1));
    (first, second, (at & 255) as u16)
}

impl Upsampler {
    fn new(
        c: &Component,
        out_w: usize,
        out_h: usize,
        h_max: usize,
        v_max: usize,
        block: usize,
    ) -> Self {
        let h_ratio = h_max / c.h.max(1);
        let cols = out_w.div_ceil(h_ratio.max(1));
        let columns =
            (h_ratio > 1).then(|| (0..out_w).map(|x| neighbours(x, h_ratio, cols)).collect());
        let v_ratio = v_max / c.v.max(1);
        Upsampler {
            stride: c.blocks_x * block,
            columns,
            v_ratio: v_ratio.max(1),
            rows: out_h.div_ceil(v_ratio.max(1)),
            blended: vec![0; cols],
            line: vec![0; out_w],
        }
    }

    fn fill(&mut self, plane: &[u8], y: usize) -> Res<()> {
        let short = || "plane smaller than the image".to_string();
        let line_at = |row: usize| plane.get(row * self.stride..(row + 1) * self.stride);
        let (r0, r1, wy) = if self.v_ratio > 1 {
            neighbours(y, self.v_ratio, self.rows)
        } else {
            (y, y, 0)
        };
        let (first, second) = (
            line_at(r0).ok_or_else(short)?,
            line_at(r1).ok_or_else(short)?,
        );
        let target = if self.columns.is_some() {
            &mut self.blended
        } else {
            &mut self.line
        };
        let n = target.len();
        if n > first.len() {
            return Err(short());
        }
        if wy == 0 {
            target.copy_from_slice(&first[..n]);
        } else {
            let (w0, w1) = (256 - u32::from(wy), u32::from(wy));
            for ((t, &a), &b) in target.iter_mut().zip(first).zip(second) {
                *t = ((u32::from(a) * w0 + u32::from(b) * w1 + 128) >> 8) as u8;
            }
        }
        if let Some(columns) = &self.columns {
            for (t, &(i0, i1, w)) in self.line.iter_mut().zip(columns) {
                let (a, b) = (self.blended.get(i0), self.blended.get(i1));
                let (Some(&a), Some(&b)) = (a, b) else {
                    return Err(short());
                };
                let w = u32::from(w);
                *t = ((u32::from(a) * (256 - w) + u32::from(b) * w + 128) >> 8) as u8;
            }
        }
        Ok(())
    }
}

#[inline]
fn ycbcr(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const SHIFT: i32 = 16;
    const HALF: i32 = 1 << (SHIFT - 1);
    let y = i32::from(y) << SHIFT | HALF;
    let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
    let clamp = |v: i32| (v >> SHIFT).clamp(0, 255) as u8;
    [
        clamp(y + 91_881 * cr),
        clamp(y - 22_554 * cb - 46_802 * cr),
        clamp(y + 116_130 * cb),
    ]
}

/// Reduced IDCT: the top-left `n`×`n` coefficients (dequantized, row-major) to `n`×`n` pixels,
/// each the value of the 8×8 block's low frequencies at the centre of its sub-square.
#[inline]
fn idct(coefficients: &[i32; 16], n: usize, plane: &mut [u8], at: usize, stride: usize) {
    let pixel = |v: i64| (v + 128).clamp(0, 255) as u8;
    match n {
        1 => {
            if let Some(p) = plane.get_mut(at) {
                *p = pixel((i64::from(coefficients[0]) + 4).div_euclid(8));
            }
        }
        2 => {
            let [a, b, c, d] = [0, 1, 2, 3].map(|i| i64::from(coefficients[i]));
            let values = [a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d];
            for (i, v) in values.into_iter().enumerate() {
                if let Some(p) = plane.get_mut(at + (i / 2) * stride + i % 2) {
                    *p = pixel((v + 4).div_euclid(8));
                }
            }
        }
        _ => {
            // 4×4 in 13-bit fixed point: T[x][u] = ½·C(u)·cos((2x+1)uπ/8), C(0) = 1/√2.
            const T: [[i64; 4]; 4] = [
                [2896, 3784, 2896, 1567],
                [2896, 1567, -2896, -3784],
                [2896, -1567, -2896, 3784],
                [2896, -3784, 2896, -1567],
            ];
            let mut rows = [[0i64; 4]; 4];
            for (v, row) in rows.iter_mut().enumerate() {
                for (x, out) in row.iter_mut().enumerate() {
                    *out = (0..4)
                        .map(|u| T[x][u] * i64::from(coefficients[v * 4 + u]))
                        .sum();
                }
            }
            for (y, weights) in T.iter().enumerate() {
                for x in 0..4 {
                    let v: i64 = weights.iter().zip(&rows).map(|(w, row)| w * row[x]).sum();
                    if let Some(p) = plane.get_mut(at + y * stride + x) {
                        *p = pixel((v + (1 << 25)) >> 26);
                    }
                }
            }
        }
    }
}

/// The images the integration tests make, for the unit tests too.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_images;

#[cfg(test)]
mod tests {
    use super::test_images as common;
    use super::*;
    use jpeg_encoder::SamplingFactor;
    use proptest::prelude::*;

    /// A smooth photo-like picture with a little noise, `channels` 1 (grey) or 3.
    fn picture(width: u16, height: u16, channels: usize) -> Vec<u8> {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut out = Vec::with_capacity(usize::from(width) * usize::from(height) * channels);
        for y in 0..usize::from(height) {
            for x in 0..usize::from(width) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let noise = (seed % 9) as i32 - 4;
                let ring = ((x * x + y * y) / 40 % 64) as i32;
                let values = [
                    (x * 255 / usize::from(width)) as i32 + noise,
                    (y * 255 / usize::from(height)) as i32 + ring - noise,
                    128 + ring * 2 - (x as i32 % 50),
                ];
                out.extend(values[..channels].iter().map(|v| (*v).clamp(0, 255) as u8));
            }
        }
        out
    }

    fn encode(
        width: u16,
        height: u16,
        grey: bool,
        sampling: SamplingFactor,
        restart: u16,
        progressive: bool,
    ) -> Vec<u8> {
        let channels = if grey { 1 } else { 3 };
        let pixels = picture(width, height, usize::from(channels));
        common::jpeg_layout(
            &pixels,
            (width, height, channels),
            sampling,
            restart,
            progressive,
        )
    }

    /// jpeg-decoder's output at the same scale, as RGB.
    fn reference(bytes: &[u8], block: usize) -> (u32, u32, Vec<u8>) {
        let mut decoder = jpeg_decoder::Decoder::new(bytes);
        decoder.read_info().expect("reference header");
        let info = decoder.info().expect("reference info");
        let (w, h) = (info.width as usize, info.height as usize);
        let want = |d: usize| (d * block).div_ceil(8) as u16;
        decoder.scale(want(w), want(h)).expect("reference scale");
        let raw = decoder.decode().expect("reference decode");
        let info = decoder.info().expect("reference info");
        let rgb = match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => raw.iter().flat_map(|&l| [l, l, l]).collect(),
            _ => raw,
        };
        (u32::from(info.width), u32::from(info.height), rgb)
    }

    fn decoded(bytes: &[u8], block: usize, what: &str) -> Scaled {
        match decode(bytes, block, 1 << 30) {
            Outcome::Decoded(scaled) => scaled,
            Outcome::Declined(reason) => panic!("{what}: declined: {reason}"),
        }
    }

    #[test]
    fn matches_jpeg_decoder_at_every_scale_sampling_and_restart_interval() {
        let samplings = [
            SamplingFactor::F_1_1,
            SamplingFactor::F_2_1,
            SamplingFactor::F_1_2,
            SamplingFactor::F_2_2,
        ];
        // (jpeg-encoder writes 4:1:1 and 4:2:1 as one scan per component: declined, below.)
        let (mut worst, mut worst_pixel): (f64, u8) = (0.0, 0);
        for (width, height) in [(333, 217), (64, 48), (17, 9), (1, 1), (600, 7)] {
            for (i, &sampling) in samplings.iter().enumerate() {
                for restart in [0, 3] {
                    let grey = i == 0 && restart == 3;
                    let bytes = encode(width, height, grey, sampling, restart, false);
                    for block in [1, 2, 4] {
                        let what = format!(
                            "{width}×{height} {sampling:?} restart {restart} grey {grey} at {block}/8"
                        );
                        let ours = decoded(&bytes, block, &what);
                        let (w, h, theirs) = reference(&bytes, block);
                        assert_eq!((ours.width, ours.height), (w, h), "{what}");
                        assert_eq!(ours.rgb.len(), theirs.len(), "{what}");
                        let diffs = ours.rgb.iter().zip(&theirs).map(|(&a, &b)| a.abs_diff(b));
                        let total: u64 = diffs.clone().map(u64::from).sum();
                        let largest = diffs.max().unwrap_or(0);
                        let mean = total as f64 / theirs.len() as f64;
                        worst = worst.max(mean);
                        worst_pixel = worst_pixel.max(largest);
                        // Rounding differs (their 1/8 IDCT truncates, their colour conversion
                        // rounds otherwise): a wrong block, table or sample would show as
                        // tens of levels on average.
                        assert!(mean < 2.0, "{what}: mean difference {mean:.2}");
                        assert!(largest <= 8, "{what}: a pixel differs by {largest}");
                    }
                }
            }
        }
        eprintln!("worst mean difference from jpeg-decoder: {worst:.2}, worst pixel {worst_pixel}");
    }

    #[test]
    fn the_image_crates_jpeg_decodes_alike() {
        let (width, height) = (400u32, 300u32);
        let pixels = picture(width as u16, height as u16, 3);
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92)
            .encode(&pixels, width, height, image::ExtendedColorType::Rgb8)
            .expect("encoding");
        for block in [1, 2, 4] {
            let ours = decoded(&bytes, block, "image crate");
            let (w, h, theirs) = reference(&bytes, block);
            assert_eq!((ours.width, ours.height), (w, h));
            let total: u64 = ours
                .rgb
                .iter()
                .zip(&theirs)
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum();
            assert!(total as f64 / (theirs.len() as f64) < 4.0);
        }
    }

    #[test]
    fn what_it_does_not_handle_is_declined_not_guessed() {
        let good = encode(64, 48, false, SamplingFactor::F_2_2, 4, false);
        let progressive = encode(64, 48, false, SamplingFactor::F_2_2, 0, true);
        let mut cases = vec![
            ("progressive", progressive, 2),
            ("full scale", good.clone(), 8),
            ("empty", Vec::new(), 2),
            ("truncated in the scan", good[..good.len() - 40].to_vec(), 2),
            ("cut in the header", good[..100].to_vec(), 2),
        ];
        let sos = good
            .windows(2)
            .position(|w| w == [0xFF, 0xDA])
            .expect("a scan");
        let mut ff = good.clone();
        ff[sos + 20..].fill(0xFF);
        cases.push(("scan data all 0xFF", ff, 2));
        let mut no_restart = good.clone();
        let rst = no_restart
            .windows(2)
            .rposition(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
            .expect("a restart marker");
        no_restart[rst + 1] = 0x00;
        cases.push(("restart marker lost", no_restart, 2));
        cases.push((
            "one scan per component",
            encode(64, 48, false, SamplingFactor::F_4_1, 0, false),
            2,
        ));
        let mut tiny_limit = good.clone();
        tiny_limit.truncate(good.len());
        for (what, bytes, block) in cases {
            assert!(
                matches!(decode(&bytes, block, 1 << 30), Outcome::Declined(_)),
                "{what}: decoded"
            );
        }
        assert!(matches!(decode(&tiny_limit, 2, 100), Outcome::Declined(r) if r.contains("limit")));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Hostile bytes never panic, whatever the scale.
        #[test]
        fn mutated_jpegs_never_panic(
            restart in 0u16..3,
            sampling in 0usize..3,
            block in prop::sample::select(vec![1usize, 2, 4]),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let sampling = [SamplingFactor::F_1_1, SamplingFactor::F_2_2, SamplingFactor::F_2_1][sampling];
            let mut bytes = encode(40, 24, false, sampling, restart, false);
            common::mutate(&mut bytes, &flips, truncate.then_some(cut));
            if let Outcome::Decoded(scaled) = decode(&bytes, block, 1 << 24) {
                prop_assert_eq!(scaled.rgb.len(), scaled.width as usize * scaled.height as usize * 3);
            }
        }
    }
}

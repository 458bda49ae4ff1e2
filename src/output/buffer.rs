//! The caller side's buffer of one output stream: chunks taken out of the channel and not yet
//! returned. Each chunk keeps the arrival stamp of the read it came from, whatever is done to
//! the buffer (searched, cut, put back), so output of both streams comes back in arrival order.

use std::collections::VecDeque;
use std::io;

/// Bytes from one read, stamped with a counter shared by the stdout and stderr readers.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) seq: u64,
    pub(crate) data: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Buffer {
    chunks: VecDeque<Chunk>,
    /// How much of the front chunk was already returned.
    front_pos: usize,
    /// Bytes in `chunks` not yet returned.
    len: usize,
    /// The stream offset of the first buffered byte: every byte returned or dropped before it.
    start: u64,
    /// Everything the reader sent is in here: no more bytes will come.
    pub(crate) ended: bool,
    /// A read error, returned once the bytes before it have been returned.
    pub(crate) error: Option<io::Error>,
}

impl Default for Buffer {
    fn default() -> Buffer {
        Buffer {
            // Room for a few chunks from the start: a read that finds one or two buffered
            // allocates nothing, not even the first time.
            chunks: VecDeque::with_capacity(8),
            front_pos: 0,
            len: 0,
            start: 0,
            ended: false,
            error: None,
        }
    }
}

/// The index of the first `byte` in `hay`, looking at eight bytes at a time: the search under
/// every `recv_line` and every line of a group in line mode.
fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let spread = ONES * u64::from(byte);
    let mut base = 0;
    for word in hay.chunks_exact(8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        // Zero where the byte matches; the expression is non-zero iff some byte is zero.
        let x = u64::from_le_bytes(bytes) ^ spread;
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        base += 8;
    }
    hay[base..]
        .iter()
        .position(|&b| b == byte)
        .map(|p| base + p)
}

impl Buffer {
    pub(crate) fn push(&mut self, chunk: Chunk) {
        self.len += chunk.data.len();
        self.chunks.push_back(chunk);
    }

    /// Puts `chunk` back at the front, to be returned before anything else.
    pub(crate) fn push_front(&mut self, chunk: Chunk) {
        if chunk.data.is_empty() {
            return;
        }
        if self.front_pos > 0 {
            // Drop the returned head of the front chunk so the new chunk can go first.
            if let Some(front) = self.chunks.front_mut() {
                front.data.drain(..self.front_pos);
            }
            self.front_pos = 0;
        }
        self.len += chunk.data.len();
        self.start = self.start.saturating_sub(chunk.data.len() as u64);
        self.chunks.push_front(chunk);
    }

    /// Bytes not yet returned.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The stream offset of the first buffered byte.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// Whether the stream ended and every byte (and error) was returned.
    pub(crate) fn is_drained(&self) -> bool {
        self.ended && self.len == 0 && self.error.is_none()
    }

    /// The arrival stamp of the next byte to return, if one is buffered.
    pub(crate) fn front_seq(&self) -> Option<u64> {
        self.chunks.front().map(|c| c.seq)
    }

    /// Removes and returns up to `maxsize` buffered bytes, moving whole chunks where it can.
    pub(crate) fn take(&mut self, maxsize: usize) -> Vec<u8> {
        let want = maxsize.min(self.len);
        let front_rest = self.front_rest();
        // One chunk is handed over as it is; several are joined into one exact allocation
        // (growing a Vec chunk by chunk would copy and fragment far more).
        let mut out = if want > front_rest {
            Vec::with_capacity(want)
        } else {
            Vec::new()
        };
        while out.len() < want {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let rest = front.data.len() - self.front_pos;
            let need = want - out.len();
            if rest > need {
                out.extend_from_slice(&front.data[self.front_pos..self.front_pos + need]);
                self.front_pos += need;
                self.consumed(need);
                break;
            }
            let chunk = self.chunks.pop_front().map(|c| c.data).unwrap_or_default();
            if out.capacity() == 0 && self.front_pos == 0 {
                out = chunk;
            } else {
                out.extend_from_slice(&chunk[self.front_pos..]);
            }
            self.front_pos = 0;
            self.consumed(rest);
        }
        out
    }

    /// Moves up to `out.len()` buffered bytes into `out`, returning how many: no allocation.
    pub(crate) fn take_slice(&mut self, out: &mut [u8]) -> usize {
        let mut done = 0;
        while done < out.len() {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let rest = &front.data[self.front_pos..];
            let n = rest.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&rest[..n]);
            done += n;
            if n == rest.len() {
                self.chunks.pop_front();
                self.front_pos = 0;
            } else {
                self.front_pos += n;
            }
            self.consumed(n);
        }
        done
    }

    /// Appends up to `maxsize` buffered bytes to `out`, returning how many; allocates only if
    /// `out` has too little spare capacity.
    pub(crate) fn take_into(&mut self, out: &mut Vec<u8>, maxsize: usize) -> usize {
        let n = maxsize.min(self.len);
        let start = out.len();
        out.resize(start + n, 0);
        self.take_slice(&mut out[start..])
    }

    /// Removes the front chunk's remaining bytes, with its stamp.
    pub(crate) fn take_front(&mut self) -> Option<Chunk> {
        let seq = self.front_seq()?;
        let data = self.take(self.front_rest());
        Some(Chunk { seq, data })
    }

    /// Drops the `n` oldest bytes (keeping the newest), returning how many were dropped.
    pub(crate) fn drop_front(&mut self, n: usize) -> usize {
        let want = n.min(self.len);
        let mut left = want;
        while left > 0 {
            let rest = self.front_rest();
            if rest > left {
                self.front_pos += left;
                self.consumed(left);
                break;
            }
            self.chunks.pop_front();
            self.front_pos = 0;
            self.consumed(rest);
            left -= rest;
        }
        want
    }

    fn front_rest(&self) -> usize {
        self.chunks
            .front()
            .map_or(0, |c| c.data.len() - self.front_pos)
    }

    fn consumed(&mut self, n: usize) {
        self.len -= n;
        self.start += n as u64;
    }

    /// The unreturned bytes of each chunk, in order.
    fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().enumerate().map(|(i, c)| {
            let skip = if i == 0 { self.front_pos } else { 0 };
            &c.data[skip..]
        })
    }

    /// Finds the first `pattern` that starts at buffered byte `from` or later and returns the
    /// number of bytes up to and including it. The chunks are searched where they lie: a match
    /// may span any number of them, and none is merged or moved.
    pub(crate) fn find(&self, pattern: &[u8], from: usize) -> Option<usize> {
        let m = pattern.len();
        if m == 0 {
            return (from <= self.len).then_some(from);
        }
        let mut base = 0;
        for (i, data) in self.slices().enumerate() {
            let end = base + data.len();
            if end > from {
                let skip = from.saturating_sub(base);
                let inside = if m == 1 {
                    find_byte(&data[skip..], pattern[0])
                } else {
                    data[skip..].windows(m).position(|w| w == pattern)
                };
                if let Some(p) = inside {
                    return Some(base + skip + p + m);
                }
                // Matches that start in this chunk's last `m - 1` bytes and end in later ones.
                let cross = data.len().saturating_sub(m - 1).max(skip);
                for at in cross..data.len() {
                    let later = self.chunks.range(i + 1..).flat_map(|c| c.data.iter());
                    if data[at..].iter().chain(later).take(m).eq(pattern.iter()) {
                        return Some(base + at + m);
                    }
                }
            }
            base = end;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(parts: &[&[u8]]) -> Buffer {
        let mut b = Buffer::default();
        for (seq, p) in parts.iter().enumerate() {
            b.push(Chunk {
                seq: seq as u64,
                data: p.to_vec(),
            });
        }
        b
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search_at_every_position() {
        // Every byte value next to the one searched for (0x80 and 0x00 trip naive word
        // tricks), at every offset and length up to three words.
        for byte in [b'\n', 0, 0x80, 0xff, 1] {
            for len in 0..24 {
                for at in 0..=len {
                    for filler in [0u8, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, b'\n' ^ 1] {
                        if filler == byte {
                            continue;
                        }
                        let mut hay = vec![filler; len];
                        if at < len {
                            hay[at] = byte;
                            hay.extend([byte, filler]);
                        }
                        let want = hay.iter().position(|&b| b == byte);
                        assert_eq!(find_byte(&hay, byte), want, "{byte} {len} {at} {filler}");
                    }
                }
            }
        }
    }

    #[test]
    fn find_sees_patterns_across_any_number_of_chunks() {
        let b = buffer(&[b"xx>", b" ", b"", b"y> ", b"z"]);
        assert_eq!(b.find(b"> ", 0), Some(4));
        assert_eq!(b.find(b"> ", 2), Some(4));
        assert_eq!(b.find(b"> ", 3), Some(7));
        assert_eq!(b.find(b"y> z", 0), Some(8));
        assert_eq!(b.find(b"q", 0), None);
        assert_eq!(b.find(b"", 3), Some(3));
    }

    #[test]
    fn cutting_and_searching_keep_each_chunk_stamp() {
        let mut b = buffer(&[b"ab", b"c\nd", b"e\n"]);
        assert_eq!(b.find(b"\n", 0), Some(4));
        assert_eq!(b.take(4), b"abc\n");
        assert_eq!(
            b.front_seq(),
            Some(1),
            "the rest of a cut chunk keeps its stamp"
        );
        assert_eq!(b.start(), 4);
        b.push_front(Chunk {
            seq: 0,
            data: b"Z".to_vec(),
        });
        assert_eq!(b.front_seq(), Some(0));
        assert_eq!(b.take(usize::MAX), b"Zde\n");
        assert_eq!(b.start(), 7, "a put-back byte counts as read again");
    }

    #[test]
    fn drop_front_keeps_the_newest_bytes() {
        let mut b = buffer(&[b"0123", b"4567", b"89"]);
        assert_eq!(b.drop_front(5), 5);
        assert_eq!(b.len(), 5);
        assert_eq!(b.take(usize::MAX), b"56789");
        assert_eq!(b.drop_front(3), 0);
    }
}

//! Buffered trace writer: events accumulate in a block buffer, which is
//! written with its length, count and checksum when it reaches the block size.

use crate::{crc32, Error, ErrorKind, Event, MAGIC, MAX_BLOCK_LEN, VERSION};
use std::io::Write;

/// Default payload size at which a block is closed (64 KiB).
const DEFAULT_BLOCK_LEN: usize = 64 << 10;

/// Writes a trace to any [`Write`]. Call [`Writer::finish`] to write the
/// last block; dropping a writer loses the events not yet written.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    block: Vec<u8>,
    count: u32,
    block_len: usize,
    offset: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the file header and returns a writer with 64 KiB blocks.
    pub fn new(out: W) -> Result<Self, Error> {
        Self::with_block_len(out, DEFAULT_BLOCK_LEN)
    }

    /// Like [`Writer::new`], closing a block once its payload reaches
    /// `block_len` bytes (clamped to 1..=16 MiB minus one event).
    pub fn with_block_len(mut out: W, block_len: usize) -> Result<Self, Error> {
        let mut header = Vec::with_capacity(crate::HEADER_LEN);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        out.write_all(&header)
            .map_err(|e| Error::new(ErrorKind::Io(e), 0))?;
        Ok(Writer {
            out,
            block: Vec::new(),
            count: 0,
            // 64 bytes is more than the largest event, so a block never
            // exceeds MAX_BLOCK_LEN.
            block_len: block_len.clamp(1, MAX_BLOCK_LEN as usize - 64),
            offset: crate::HEADER_LEN as u64,
        })
    }

    /// Appends one event.
    pub fn write(&mut self, event: &Event) -> Result<(), Error> {
        event.encode(&mut self.block);
        self.count += 1;
        if self.block.len() >= self.block_len {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Writes the buffered events as one block (nothing if there are none).
    pub fn flush_block(&mut self) -> Result<(), Error> {
        if self.count == 0 {
            return Ok(());
        }
        let len = self.block.len() as u32;
        let mut header = [0u8; crate::BLOCK_HEADER_LEN];
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[4..8].copy_from_slice(&self.count.to_le_bytes());
        header[8..12].copy_from_slice(&crc32(&self.block).to_le_bytes());
        let offset = self.offset;
        self.out
            .write_all(&header)
            .and_then(|()| self.out.write_all(&self.block))
            .map_err(|e| Error::new(ErrorKind::Io(e), offset))?;
        self.offset += (crate::BLOCK_HEADER_LEN + self.block.len()) as u64;
        self.block.clear();
        self.count = 0;
        Ok(())
    }

    /// Writes the last block, flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, Error> {
        self.flush_block()?;
        let offset = self.offset;
        self.out
            .flush()
            .map_err(|e| Error::new(ErrorKind::Io(e), offset))?;
        Ok(self.out)
    }
}

//! The packet list: a ring buffer of the last [`RING_CAPACITY`] captured frames, each
//! decoded once on arrival, with the text filter, the pause and the selection.
//!
//! Frames are numbered in arrival order (`seq`); the numbers of the frames in the ring are
//! contiguous, so a frame is found by number in constant time, and the frames matching the
//! filter are kept as an ordered list of numbers, updated as frames arrive and leave.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;

use crate::capture::{Frame, Point};
use crate::decode::{DecodeOptions, FlowKey, decode};

/// How many frames the panel keeps.
pub const RING_CAPACITY: usize = 100_000;

/// A captured frame, decoded.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Arrival number.
    pub seq: u64,
    /// The frame.
    pub frame: Frame,
    /// One-line summary.
    pub summary: String,
    /// Fingerprint of its innermost IP packet that survives NAT, encapsulation and routing:
    /// equal for every sighting of one packet.
    pub key: Option<u64>,
    /// Innermost source and destination addresses.
    pub addrs: Option<(IpAddr, IpAddr)>,
}

/// The fingerprint of [`Captured::key`]: the fields [`FlowKey::matches_across_nat`] compares.
pub fn nat_key(k: &FlowKey) -> u64 {
    let mut h = DefaultHasher::new();
    k.nat_identity().hash(&mut h);
    h.finish()
}

/// Whether `hay` contains `needle` (already lowercase), ignoring ASCII case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    h.len() >= n.len()
        && (0..=h.len() - n.len()).any(|i| {
            h[i].to_ascii_lowercase() == first && h[i + 1..i + n.len()].eq_ignore_ascii_case(rest)
        })
}

/// Interfaces the list is narrowed to: a link's ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// What they are, for the title (`veth104═veth105`).
    pub name: String,
    /// `(node, interface)` of each.
    pub ends: Vec<(String, String)>,
}

/// The ring buffer and the list's view state.
#[derive(Debug, Clone)]
pub struct PacketBuffer {
    ring: VecDeque<Captured>,
    capacity: usize,
    next_seq: u64,
    /// Frames pushed out of the ring so far.
    pub evicted: u64,
    filter: String,
    scope: Option<Scope>,
    matches: VecDeque<u64>,
    /// Capture time of the first frame, the origin of the time column.
    pub t0: Option<u64>,
    /// While paused, frames from this number on are kept but not shown.
    pub paused_at: Option<u64>,
    /// Selected frame; `None` follows the newest.
    pub selected: Option<u64>,
    /// First frame shown while one is selected.
    pub top: u64,
    opts: DecodeOptions,
}

impl Default for PacketBuffer {
    fn default() -> Self {
        Self::new(RING_CAPACITY)
    }
}

impl PacketBuffer {
    /// An empty buffer keeping at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            evicted: 0,
            filter: String::new(),
            scope: None,
            matches: VecDeque::new(),
            t0: None,
            paused_at: None,
            selected: None,
            top: 0,
            opts: DecodeOptions::default(),
        }
    }

    /// Frames in the ring.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The number the next frame will get (= frames seen so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Frames matching the filter.
    pub fn matching(&self) -> usize {
        self.matches.len()
    }

    /// The filter text.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    fn first_seq(&self) -> u64 {
        self.ring.front().map_or(self.next_seq, |c| c.seq)
    }

    /// Frame number `seq`, if still in the ring.
    pub fn get(&self, seq: u64) -> Option<&Captured> {
        let i = usize::try_from(seq.checked_sub(self.first_seq())?).ok()?;
        self.ring.get(i)
    }

    /// Every frame in the ring, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Captured> {
        self.ring.iter()
    }

    /// Per point: whether it is in the scope, and whether its name matches the filter.
    fn point_matches(&self, points: &[Point]) -> Vec<(bool, bool)> {
        points
            .iter()
            .map(|p| {
                let in_scope = self
                    .scope
                    .as_ref()
                    .is_none_or(|s| s.ends.iter().any(|(n, i)| *n == p.node && *i == p.iface));
                (in_scope, contains_ci(&p.to_string(), &self.filter))
            })
            .collect()
    }

    fn matches_filter(&self, c: &Captured, point_matches: &[(bool, bool)]) -> bool {
        let (in_scope, named) = point_matches
            .get(c.frame.point)
            .copied()
            .unwrap_or((self.scope.is_none(), false));
        in_scope && (self.filter.is_empty() || named || contains_ci(&c.summary, &self.filter))
    }

    /// The interfaces the list is narrowed to, if it is.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// Shows only frames seen on `scope`'s interfaces (or, `None`, on any).
    pub fn set_scope(&mut self, scope: Option<Scope>, points: &[Point]) {
        if self.scope != scope {
            self.scope = scope;
            self.refilter(points);
        }
    }

    /// Decodes and adds `frames` (in capture-time order), evicting the oldest beyond
    /// capacity.
    pub fn push(&mut self, mut frames: Vec<Frame>, points: &[Point]) {
        // Each capture point has its own thread: a batch arrives interleaved.
        frames.sort_by_key(|f| f.ts_ns);
        let point_matches = self.point_matches(points);
        for frame in frames {
            let pkt = decode(&frame.data, &self.opts);
            let key = pkt.inner_key();
            let c = Captured {
                seq: self.next_seq,
                summary: pkt.summary(),
                key: key.as_ref().map(nat_key),
                addrs: key.map(|k| (k.src, k.dst)),
                frame,
            };
            self.next_seq += 1;
            self.t0.get_or_insert(c.frame.ts_ns);
            if self.matches_filter(&c, &point_matches) {
                self.matches.push_back(c.seq);
            }
            self.ring.push_back(c);
        }
        while self.ring.len() > self.capacity {
            if let Some(old) = self.ring.pop_front() {
                self.evicted += 1;
                if self.matches.front() == Some(&old.seq) {
                    self.matches.pop_front();
                }
            }
        }
        let first = self.first_seq();
        if self.selected.is_some_and(|s| s < first) {
            self.selected = self.matches.front().copied();
        }
        self.top = self.top.max(first);
    }

    /// Drops every frame (the counters of frames seen and evicted stay).
    pub fn clear(&mut self) {
        self.ring.clear();
        self.matches.clear();
        self.selected = None;
        self.top = self.next_seq;
    }

    /// Shows only frames whose point or summary contains `text` (any case).
    pub fn set_filter(&mut self, text: &str, points: &[Point]) {
        self.filter = text.to_lowercase();
        self.refilter(points);
    }

    fn refilter(&mut self, points: &[Point]) {
        let point_matches = self.point_matches(points);
        let matches: VecDeque<u64> = self
            .ring
            .iter()
            .filter(|c| self.matches_filter(c, &point_matches))
            .map(|c| c.seq)
            .collect();
        self.matches = matches;
        if self
            .selected
            .is_some_and(|s| self.matches.binary_search(&s).is_err())
        {
            self.selected = None;
        }
    }

    /// Pauses or resumes the list.
    pub fn toggle_pause(&mut self) {
        self.paused_at = match self.paused_at {
            Some(_) => None,
            None => Some(self.next_seq),
        };
    }

    /// Frames not shown because of the pause.
    pub fn held(&self) -> u64 {
        self.paused_at.map_or(0, |p| self.next_seq - p)
    }

    /// Index in `matches` past the last frame shown.
    fn end(&self) -> usize {
        match self.paused_at {
            Some(p) => self.matches.partition_point(|&s| s < p),
            None => self.matches.len(),
        }
    }

    /// The frames shown in a list `height` rows high.
    pub fn window(&self, height: usize) -> Vec<&Captured> {
        let end = self.end();
        let start = match self.selected {
            None => end.saturating_sub(height),
            Some(_) => self
                .matches
                .partition_point(|&s| s < self.top)
                .min(end.saturating_sub(1)),
        };
        self.matches
            .range(start..end.min(start + height))
            .filter_map(|&s| self.get(s))
            .collect()
    }

    /// Moves the selection `delta` rows (negative: up) in a list `height` rows high. With
    /// nothing selected, moving up selects the newest frame shown.
    pub fn move_selection(&mut self, delta: isize, height: usize) {
        let end = self.end();
        if end == 0 {
            return;
        }
        let (cur, top) = match self.selected {
            Some(s) => (self.matches.partition_point(|&m| m < s), self.top),
            None if delta < 0 => {
                let top = self.matches[end.saturating_sub(height)];
                (end, top)
            }
            None => return,
        };
        let target = cur.saturating_add_signed(delta).min(end - 1);
        self.top = top;
        self.select_index(target, height);
    }

    /// Selects the `i`-th frame shown from the top of the list.
    pub fn click(&mut self, row: usize, height: usize) {
        let rows: Vec<u64> = self.window(height).iter().map(|c| c.seq).collect();
        if let (Some(&seq), Some(&first)) = (rows.get(row), rows.first()) {
            self.top = first;
            self.selected = Some(seq);
        }
    }

    /// Selects the oldest frame shown.
    pub fn select_first(&mut self, height: usize) {
        if self.end() > 0 {
            self.select_index(0, height);
        }
    }

    fn select_index(&mut self, i: usize, height: usize) {
        let Some(&seq) = self.matches.get(i) else {
            return;
        };
        self.selected = Some(seq);
        let top_i = self.matches.partition_point(|&m| m < self.top);
        if i < top_i {
            self.top = seq;
        } else if height > 0 && i >= top_i + height {
            self.top = self.matches[i + 1 - height];
        }
    }

    /// Follows the newest frame again.
    pub fn follow(&mut self) {
        self.selected = None;
    }

    /// The frames sharing fingerprint `key`, with their numbers.
    pub fn sightings(&self, key: u64) -> (Vec<Frame>, Vec<u64>) {
        self.ring
            .iter()
            .filter(|c| c.key == Some(key))
            .map(|c| (c.frame.clone(), c.seq))
            .unzip()
    }

    /// The frames from number `since` on that involve address `ip`, with their numbers.
    pub fn involving(&self, since: u64, ip: IpAddr) -> (Vec<Frame>, Vec<u64>) {
        self.ring
            .iter()
            .filter(|c| c.seq >= since && c.addrs.is_some_and(|(s, d)| s == ip || d == ip))
            .map(|c| (c.frame.clone(), c.seq))
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Dir;
    use crate::decode::build::icmp_echo_frame;

    fn frames(n: u16) -> Vec<Frame> {
        (0..n)
            .map(|i| Frame {
                point: 0,
                ts_ns: u64::from(i) * 1000,
                len: 98,
                data: icmp_echo_frame(
                    [10, 0, 0, 4].into(),
                    [10, 0, 0, 14].into(),
                    true,
                    1,
                    i,
                    b"x",
                ),
            })
            .collect()
    }

    fn points() -> Vec<Point> {
        vec![Point {
            node: "hostA/container".into(),
            netns: "vx.t.hostA.container".into(),
            iface: "veth105".into(),
            dir: Dir::Out,
        }]
    }

    #[test]
    fn evicts_beyond_capacity_and_counts() {
        let mut b = PacketBuffer::new(10);
        b.push(frames(25), &points());
        assert_eq!((b.len(), b.evicted, b.matching()), (10, 15, 10));
        assert!(b.get(14).is_none());
        assert_eq!(b.get(15).map(|c| c.seq), Some(15));
        assert_eq!(
            b.window(3).iter().map(|c| c.seq).collect::<Vec<_>>(),
            [22, 23, 24]
        );
    }

    #[test]
    fn filter_pause_and_selection() {
        let mut b = PacketBuffer::new(100);
        b.push(frames(20), &points());
        b.set_filter("SEQ 1", &points());
        // seq 1 and 10..19
        assert_eq!(b.matching(), 11);
        b.set_filter("container:veth105", &points());
        assert_eq!(b.matching(), 20);
        b.toggle_pause();
        b.push(frames(5), &points());
        assert_eq!(b.held(), 5);
        assert_eq!(
            b.window(2).iter().map(|c| c.seq).collect::<Vec<_>>(),
            [18, 19]
        );
        b.move_selection(-1, 2);
        assert_eq!(b.selected, Some(19));
        b.move_selection(-3, 2);
        assert_eq!(b.selected, Some(16));
        assert_eq!(
            b.window(2).iter().map(|c| c.seq).collect::<Vec<_>>(),
            [16, 17]
        );
        assert_eq!(b.sightings(b.get(1).unwrap().key.unwrap()).1, [1, 21]);
    }
}

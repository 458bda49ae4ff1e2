//! `Group`: many children on one event stream. The main tests use children that write both
//! streams unevenly, in pieces, without flushing by hand, and check every byte; others pin
//! down the limit, kills, drops, line mode and timeouts with simpler children.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{child, within, HANG};
use procpump::{Capture, ChildId, Error, Event, EventKind, Group, Options, Stream};

/// Wine's wineserver fails now and then when about 200 processes start at once.
const MEMBERS: usize = if cfg!(windows) { 50 } else { 200 };

fn lines() -> Options {
    let mut o = Options::new();
    o.lines(true);
    o
}

/// Every event until `Ok(None)`, failing on a hang.
fn all_events(group: &Group) -> Vec<Event> {
    let mut events = Vec::new();
    let start = Instant::now();
    while let Some(e) = group.next_event(HANG).expect("next_event") {
        events.push(e);
        assert!(start.elapsed() < HANG * 2, "hang");
    }
    events
}

/// What `chatter n` writes: its stdout and stderr lines.
fn chatter_lines(n: u64) -> (Vec<String>, Vec<String>) {
    let out = (0..n)
        .map(|i| format!("o{i} {}\n", "p".repeat((i as usize * 37) % 300)))
        .collect();
    let err = (0..n)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("e{i}\n"))
        .collect();
    (out, err)
}

#[test]
fn two_hundred_members_every_line_once_in_order_each_exit_after_its_output() {
    let group = Group::new();
    let mut ids = Vec::new();
    for _ in 0..MEMBERS {
        ids.push(
            group
                .spawn_with(
                    &lines(),
                    child(&["chatter", "60"]).stdin(std::process::Stdio::null()),
                )
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in spawn order");
    let events = within(HANG * 2, move || all_events(&group));
    let (want_out, want_err) = chatter_lines(60);
    let mut got: HashMap<ChildId, [Vec<String>; 2]> = HashMap::new();
    let mut eofs: HashMap<ChildId, usize> = HashMap::new();
    let mut exited = HashSet::new();
    for e in events {
        assert!(!exited.contains(&e.id), "{e:?} after the member's exit");
        match e.kind {
            EventKind::Output(stream, line) => {
                assert_eq!(line.last(), Some(&b'\n'), "line mode: whole lines");
                assert_eq!(
                    eofs.get(&e.id).copied().unwrap_or(0) & (1 << stream as usize),
                    0
                );
                got.entry(e.id).or_default()[stream as usize]
                    .push(String::from_utf8(line).unwrap());
            }
            EventKind::Eof(stream) => *eofs.entry(e.id).or_default() |= 1 << stream as usize,
            EventKind::Exit(status) => {
                assert!(status.success());
                assert_eq!(eofs.get(&e.id), Some(&3), "both Eofs before the exit");
                exited.insert(e.id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(exited.len(), MEMBERS);
    for id in ids {
        let [out, err] = &got[&id];
        assert_eq!(out, &want_out, "{id} stdout");
        assert_eq!(err, &want_err, "{id} stderr");
    }
}

#[test]
fn events_follow_arrival_order_across_members() {
    // Three echo members; the test makes each write in a scrambled order, waiting each time
    // until the bytes reached the member's reader (they are buffered), so the arrival order
    // is known exactly whatever the scheduling. Events must come out in that order.
    let group = Group::new();
    let ids: Vec<ChildId> = (0..3)
        .map(|_| group.spawn_with(&lines(), &mut child(&["echo"])).unwrap())
        .collect();
    let order = [1, 0, 2, 2, 0, 1, 0, 2, 1, 1];
    let mut sent = Vec::new();
    for (n, &m) in order.iter().enumerate() {
        let member = group.get(ids[m]).unwrap();
        let before = member.buffered(Stream::Stdout);
        let line = format!("m{m} n{n}\n").into_bytes();
        member.send(&line).unwrap();
        let start = Instant::now();
        while member.buffered(Stream::Stdout) < before + line.len() {
            assert!(start.elapsed() < HANG, "the echo never came");
            thread::sleep(Duration::from_millis(1));
        }
        sent.push((ids[m], line));
    }
    for &id in &ids {
        group.get(id).unwrap().close_stdin();
    }
    let events = within(HANG, move || all_events(&group));
    let outputs: Vec<(ChildId, Vec<u8>)> = events
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Output(Stream::Stdout, b) => Some((e.id, b)),
            _ => None,
        })
        .collect();
    assert_eq!(outputs, sent);
}

#[test]
fn the_limit_holds_and_every_queued_command_runs() {
    const LIMIT: usize = 3;
    const JOBS: usize = 20;
    let group = Group::with_max_running(LIMIT);
    let mut options = lines();
    options.stdin(Capture::Null);
    let ids: Vec<ChildId> = (0..JOBS)
        .map(|i| {
            let mode = if i % 2 == 0 { "chatter" } else { "lines" };
            group.queue_with(&options, &mut child(&[mode, "5", "10"]))
        })
        .collect();
    assert_eq!(group.running(), LIMIT);
    assert_eq!(group.queued(), JOBS - LIMIT);
    let events = within(HANG, move || all_events(&group));
    let (mut running, mut most, mut started, mut exited) = (0usize, 0, Vec::new(), Vec::new());
    for e in &events {
        match e.kind {
            EventKind::Started => {
                running += 1;
                most = most.max(running);
                started.push(e.id);
            }
            EventKind::Exit(status) => {
                assert!(status.success());
                assert!(started.contains(&e.id), "exit before start");
                running -= 1;
                exited.push(e.id);
            }
            EventKind::Output(..) | EventKind::Eof(_) => {
                assert!(started.contains(&e.id), "output before Started")
            }
            ref other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(most, LIMIT);
    assert_eq!(started, ids, "queued commands start in queue order");
    exited.sort();
    assert_eq!(exited, ids);
}

#[test]
fn spawn_ignores_the_limit_but_counts_toward_it() {
    let group = Group::with_max_running(1);
    let a = group.spawn(&mut child(&["sleep", "200"])).unwrap();
    let b = group.spawn(&mut child(&["sleep", "200"])).unwrap();
    let c = group.queue(&mut child(&["sleep", "10"]));
    assert_eq!((group.running(), group.queued()), (2, 1));
    let events = within(HANG, move || all_events(&group));
    let kinds: Vec<(ChildId, &str)> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Started => Some((e.id, "started")),
            EventKind::Exit(_) => Some((e.id, "exit")),
            _ => None,
        })
        .collect();
    // c starts only once both a and b exited: two running, limit one.
    let c_start = kinds.iter().position(|k| *k == (c, "started")).unwrap();
    for id in [a, b] {
        assert!(kinds.iter().position(|k| *k == (id, "exit")).unwrap() < c_start);
    }
    assert_eq!(kinds.last(), Some(&(c, "exit")));
}

#[test]
fn a_queued_command_that_cannot_start_is_an_event_not_a_panic() {
    let group = Group::with_max_running(1);
    let ok = group.queue(&mut child(&["print", "hi"]));
    let missing = group.queue(&mut std::process::Command::new("/no/such/program-procpump"));
    let after = group.queue(&mut child(&["print", "after"]));
    let events = within(HANG, move || all_events(&group));
    let failed: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SpawnFailed(Error::Spawn { .. })))
        .map(|e| e.id)
        .collect();
    assert_eq!(failed, [missing]);
    for id in [ok, after] {
        assert!(events
            .iter()
            .any(|e| e.id == id && matches!(e.kind, EventKind::Exit(s) if s.success())));
    }
    // A direct spawn of a missing program is an error at once.
    let group = Group::new();
    let err = group
        .spawn(&mut std::process::Command::new("/no/such/program-procpump"))
        .unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
    assert!(group.is_empty());
}

#[test]
fn direct_reads_and_events_share_the_bytes_exactly_once() {
    let group = Group::new();
    let id = group.spawn(&mut child(&["write", "3000000"])).unwrap();
    let member = group.get(id).unwrap();
    let mut got = Vec::new();
    let start = Instant::now();
    let mut direct = false;
    loop {
        direct = !direct;
        if direct {
            // A direct read in between, from the same thread: the order is exact.
            if let Some(bytes) = member.stdout().unwrap().try_recv().unwrap() {
                got.extend(bytes);
            }
        }
        match within_event(&group) {
            Some(Event {
                kind: EventKind::Output(Stream::Stdout, bytes),
                ..
            }) => got.extend(bytes),
            Some(Event {
                kind: EventKind::Exit(status),
                ..
            }) => assert!(status.success()),
            Some(_) => {}
            None => break,
        }
        assert!(start.elapsed() < HANG, "hang");
    }
    assert_eq!(got, common::pattern(3_000_000));
    assert!(group.get(id).is_none(), "forgotten after its exit");
}

fn within_event(group: &Group) -> Option<Event> {
    group.next_event(HANG).unwrap()
}

#[test]
fn input_through_get_and_a_kill_inside_a_group() {
    let group = Group::new();
    let echo = group.spawn_with(&lines(), &mut child(&["echo"])).unwrap();
    let sleeper = group.spawn(&mut child(&["sleep", "60000"])).unwrap();
    let e = group.get(echo).unwrap();
    e.send(b"one\ntw").unwrap();
    e.send(b"o\n").unwrap();
    e.close_stdin();
    drop(e);
    let mut got = Vec::new();
    let mut exits = BTreeMap::new();
    while let Some(ev) = group.next_event(HANG).unwrap() {
        match ev.kind {
            EventKind::Output(_, line) => got.push(line),
            EventKind::Exit(status) => {
                exits.insert(ev.id, status);
            }
            EventKind::Eof(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        if got.len() == 2 && exits.contains_key(&echo) && !exits.contains_key(&sleeper) {
            group.get(sleeper).unwrap().kill().unwrap();
        }
    }
    assert_eq!(got, [b"one\n".to_vec(), b"two\n".to_vec()]);
    assert!(exits[&echo].success());
    assert!(!exits[&sleeper].success(), "killed");
}

#[test]
fn kill_all_kills_members_and_cancels_the_queue() {
    let group = Group::with_max_running(2);
    let running: Vec<_> = (0..2)
        .map(|_| group.queue(&mut child(&["sleep", "60000"])))
        .collect();
    let waiting = group.queue(&mut child(&["sleep", "60000"]));
    group.kill_all().unwrap();
    let events = within(HANG, move || all_events(&group));
    for id in running {
        assert!(events
            .iter()
            .any(|e| e.id == id && matches!(e.kind, EventKind::Exit(s) if !s.success())));
    }
    let waiting_events: Vec<_> = events.iter().filter(|e| e.id == waiting).collect();
    assert_eq!(waiting_events.len(), 1);
    assert!(matches!(waiting_events[0].kind, EventKind::Cancelled));
}

#[test]
fn a_grandchild_holding_the_pipes_does_not_hold_up_the_exit() {
    // The member exits at once; its grandchild keeps stdout and stderr open for a minute.
    let group = Group::new();
    let id = group.spawn(&mut child(&["grandchild", "60000"])).unwrap();
    let events = within(HANG, move || all_events(&group));
    let mine: Vec<_> = events.iter().filter(|e| e.id == id).collect();
    assert!(matches!(&mine[0].kind, EventKind::Output(Stream::Stdout, b) if b == b"spawned\n"));
    assert!(matches!(mine.last().unwrap().kind, EventKind::Exit(s) if s.success()));
    let eofs = mine
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Eof(_)))
        .count();
    assert_eq!(eofs, 2, "the group stops following both streams");
}

#[test]
fn dropping_a_group_returns_at_once_and_kill_on_drop_kills() {
    let dir = std::env::temp_dir().join(format!("procpump-group-drop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kept = dir.join("kept");
    let killed = dir.join("killed");
    let _ = std::fs::remove_file(&kept);
    let _ = std::fs::remove_file(&killed);
    let keep = Group::new();
    keep.spawn(&mut child(&["touch-after", "1500", kept.to_str().unwrap()]))
        .unwrap();
    let kill = Group::new().kill_on_drop(true);
    kill.spawn(&mut child(&[
        "touch-after",
        "1500",
        killed.to_str().unwrap(),
    ]))
    .unwrap();
    within(Duration::from_secs(10), move || {
        drop(keep);
        drop(kill);
    });
    let start = Instant::now();
    while !kept.exists() {
        assert!(
            start.elapsed() < HANG,
            "the member left running never finished"
        );
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(500));
    assert!(!killed.exists(), "kill_on_drop left the member running");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn line_mode_partial_last_line_and_crlf() {
    let group = Group::new();
    let partial = group
        .spawn_with(&lines(), &mut child(&["print", "one\ntwo\nthr"]))
        .unwrap();
    let crlf = group
        .spawn_with(&lines(), &mut child(&["crlf", "3"]))
        .unwrap();
    let events = within(HANG, move || all_events(&group));
    let out = |id: ChildId| -> Vec<Vec<u8>> {
        events
            .iter()
            .filter(|e| e.id == id)
            .filter_map(|e| match &e.kind {
                EventKind::Output(Stream::Stdout, b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(out(partial), [&b"one\n"[..], b"two\n", b"thr"]);
    assert_eq!(out(crlf), [&b"l0\r\n"[..], b"l1\r\n", b"l2\r\n"]);
}

#[test]
fn line_mode_cuts_a_line_longer_than_the_bound_into_bound_sized_pieces() {
    let mut options = lines();
    options.output_capacity(1000);
    let group = Group::new();
    let id = group
        .spawn_with(&options, &mut child(&["long-line", "4500"]))
        .unwrap();
    let events = within(HANG, move || all_events(&group));
    let pieces: Vec<Vec<u8>> = events
        .into_iter()
        .filter(|e| e.id == id)
        .filter_map(|e| match e.kind {
            EventKind::Output(Stream::Stdout, b) => Some(b),
            _ => None,
        })
        .collect();
    let lens: Vec<usize> = pieces.iter().map(Vec::len).collect();
    assert_eq!(lens, [1000, 1000, 1000, 1000, 501, 4]);
    let mut want = vec![b'x'; 4500];
    want.extend_from_slice(b"\ntail");
    assert_eq!(pieces.concat(), want);
}

#[test]
fn chunk_mode_delivers_every_byte_of_a_flood_on_both_streams() {
    let group = Group::new();
    let ids: Vec<_> = (0..4)
        .map(|_| group.spawn(&mut child(&["write-both", "2000000"])).unwrap())
        .collect();
    let events = within(HANG, move || all_events(&group));
    let mut got: HashMap<(ChildId, Stream), Vec<u8>> = HashMap::new();
    for e in events {
        if let EventKind::Output(s, b) = e.kind {
            assert!(!b.is_empty());
            got.entry((e.id, s)).or_default().extend(b);
        }
    }
    let want = common::pattern(2_000_000);
    for id in ids {
        for s in [Stream::Stdout, Stream::Stderr] {
            assert!(got[&(id, s)] == want, "{id} {s}");
        }
    }
}

#[test]
fn timeouts_zero_max_deadlines_and_the_empty_group() {
    let group = Group::new();
    assert!(group.next_event(Duration::ZERO).unwrap().is_none());
    assert!(group.next_event(Duration::MAX).unwrap().is_none());
    assert!(group.events().next().is_none());
    let id = group.spawn(&mut child(&["sleep", "60000"])).unwrap();
    let err = group.next_event(Duration::ZERO).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let err = group
        .next_event_deadline(Instant::now() - Duration::from_secs(1))
        .unwrap_err();
    assert!(err.is_timeout());
    let err = group.next_event(Duration::from_millis(50)).unwrap_err();
    assert!(matches!(
        err,
        Error::Timeout {
            operation: "next_event",
            ..
        }
    ));
    group.get(id).unwrap().kill().unwrap();
    let group = Arc::new(group);
    let g = Arc::clone(&group);
    let events: Vec<Event> = within(HANG, move || g.events().map(Result::unwrap).collect());
    assert!(matches!(events.last().unwrap().kind, EventKind::Exit(_)));
    assert!(group.is_empty());
}

#[test]
fn group_is_send_and_sync_and_events_can_be_taken_from_two_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Group>();
    let group = Arc::new(Group::new());
    let mut options = lines();
    options.stdin(Capture::Null);
    for _ in 0..8 {
        group
            .spawn_with(&options, &mut child(&["lines", "50", "1"]))
            .unwrap();
    }
    let takers: Vec<_> = (0..2)
        .map(|_| {
            let g = Arc::clone(&group);
            thread::spawn(move || {
                let mut n = 0;
                while let Some(e) = g.next_event(HANG).unwrap() {
                    if matches!(e.kind, EventKind::Output(..)) {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: usize = within(HANG, move || {
        takers.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(total, 8 * 50);
}

#[test]
fn a_slow_caller_gets_every_byte_of_a_member_that_exited_long_ago() {
    // The child writes 200 kB and exits while nearly all of it still waits (the bound is
    // 512 bytes): its streams stay open long after the exit because the caller is slow, not
    // because a grandchild holds them. Nothing may be cut off.
    let mut options = Options::new();
    options.output_capacity(512).stdin(Capture::Null);
    let group = Group::new();
    let id = group
        .spawn_with(&options, &mut child(&["write", "200000"]))
        .unwrap();
    let got = within(HANG, move || {
        let (mut got, mut events) = (Vec::new(), 0);
        while let Some(e) = group.next_event(HANG).unwrap() {
            events += 1;
            if events < 330 {
                thread::sleep(Duration::from_millis(10));
            }
            match e.kind {
                EventKind::Output(Stream::Stdout, b) => got.extend(b),
                EventKind::Exit(status) => assert!(status.success()),
                EventKind::Eof(_) => {}
                other => panic!("unexpected {other:?} for {}", e.id),
            }
        }
        got
    });
    assert_eq!(got.len(), 200_000, "{id}: bytes cut off after the exit");
    assert!(got == common::pattern(200_000));
}

#[test]
fn members_without_captured_output_still_report_their_exit() {
    let mut options = Options::new();
    options
        .stdin(Capture::Null)
        .stdout(Capture::Null)
        .stderr(Capture::Null);
    let group = Group::with_max_running(4);
    let ids: Vec<_> = (0..10)
        .map(|i| {
            let code = (i % 3).to_string();
            group.queue_with(&options, &mut child(&["exit", &code]))
        })
        .collect();
    let events = within(HANG, move || all_events(&group));
    for (i, id) in ids.iter().enumerate() {
        let mine: Vec<_> = events.iter().filter(|e| e.id == *id).collect();
        assert_eq!(mine.len(), 2, "Started and Exit only: {mine:?}");
        assert!(matches!(mine[0].kind, EventKind::Started));
        match mine[1].kind {
            EventKind::Exit(status) => assert_eq!(status.code(), Some(i as i32 % 3)),
            ref other => panic!("{other:?}"),
        }
    }
}

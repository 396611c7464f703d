// Go consumer of the delivery benchmark, on github.com/cilium/ebpf.
//
//	delivery-go <delivery.bpf.o> <target cgroup id>
//
// Loads and attaches the producer, prints "ready", then reads records with ringbuf.Reader and a
// 10 ms deadline (the reader consumes what NO_WAKEUP producers left once the deadline passes).
// Each record is decoded field by field into a header struct (no allocation per record: ReadInto
// with one reused Record). On SIGTERM it prints {"records":..,"lost":..,"checksum":..}; on
// SIGUSR2 {"snapshot":{"records":..,"lost":..}} and it goes on.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

type header struct {
	TsNs     uint64
	CgroupID uint64
	Tgid     uint32
	Pid      uint32
	NsTgid   uint32
	Type     uint16
	Flags    uint8
	Comm     [16]byte
	Syscall  uint64
	Seq      uint64
}

func decode(b []byte, h *header) {
	le := binary.LittleEndian
	h.TsNs = le.Uint64(b[0:])
	h.CgroupID = le.Uint64(b[8:])
	h.Tgid = le.Uint32(b[16:])
	h.Pid = le.Uint32(b[20:])
	h.NsTgid = le.Uint32(b[24:])
	h.Type = le.Uint16(b[28:])
	h.Flags = b[30]
	copy(h.Comm[:], b[32:48])
	h.Syscall = le.Uint64(b[48:])
	h.Seq = le.Uint64(b[56:])
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: delivery-go <obj> <cgroup id>")
		os.Exit(2)
	}
	cg, err := strconv.ParseUint(os.Args[2], 10, 64)
	if err != nil {
		fail("cgroup id", err)
	}
	spec, err := ebpf.LoadCollectionSpec(os.Args[1])
	if err != nil {
		fail("spec", err)
	}
	if err := spec.Variables["target_cgroup"].Set(cg); err != nil {
		fail("target_cgroup", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		fail("load", err)
	}
	defer coll.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: coll.Programs["on_sys_enter"]})
	if err != nil {
		fail("attach", err)
	}
	defer l.Close()
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		fail("reader", err)
	}

	var stop, snapshot atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; stop.Store(true) }()
	// SIGUSR2: print the counts so far and go on (the benchmark subtracts a warm-up phase).
	snaps := make(chan os.Signal, 1)
	signal.Notify(snaps, syscall.SIGUSR2)
	go func() {
		for range snaps {
			snapshot.Store(true)
		}
	}()

	fmt.Println("ready")
	var records, checksum uint64
	var rec ringbuf.Record
	var h header
	rd.SetDeadline(time.Now().Add(10 * time.Millisecond))
	for {
		err := rd.ReadInto(&rec)
		if err == nil {
			if len(rec.RawSample) >= 64 {
				decode(rec.RawSample, &h)
				checksum += h.Syscall
			}
			records++
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if stop.Load() {
				break
			}
			if snapshot.Swap(false) {
				fmt.Printf("{\"snapshot\":{\"records\":%d,\"lost\":%d}}\n", records, lostTotal(coll))
			}
			rd.SetDeadline(time.Now().Add(10 * time.Millisecond))
			continue
		}
		fail("read", err)
	}
	lost := lostTotal(coll)
	fmt.Printf("{\"records\":%d,\"lost\":%d,\"checksum\":%d}\n", records, lost, checksum)
}

// lostTotal sums the per-CPU lost-records counter.
func lostTotal(coll *ebpf.Collection) uint64 {
	var lost uint64
	var perCPU []uint64
	if err := coll.Maps["events_lost"].Lookup(uint32(0), &perCPU); err == nil {
		for _, v := range perCPU {
			lost += v
		}
	}
	return lost
}

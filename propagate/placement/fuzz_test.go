package placement

import (
	"fmt"
	"sort"
	"testing"
)

// FuzzDivide checks the division invariants: every replica is placed when the capacities allow
// it, no share is negative or above its capacity, weightless shares get nothing, and the result
// depends only on the shares, not on their order.
func FuzzDivide(f *testing.F) {
	f.Add(uint32(3), []byte{1, 2}, []byte{255, 255}, []byte{0, 0})
	f.Add(uint32(10), []byte{1, 1, 1}, []byte{255, 255, 255}, []byte{0, 0, 0})
	f.Add(uint32(12), []byte{6, 12, 18}, []byte{6, 12, 18}, []byte{0, 1, 0})
	f.Add(uint32(1<<31-1), []byte{200, 1}, []byte{255, 255}, []byte{3, 0})
	f.Add(uint32(7), []byte{0, 0, 5}, []byte{0, 1, 2}, []byte{9, 9, 9})
	f.Fuzz(func(t *testing.T, total uint32, weights, capacities, previous []byte) {
		total %= 1 << 31
		n := min(len(weights), 64)
		shares := make([]share, n)
		var sumCap int64
		unlimited, anyWeight := false, false
		for i := range shares {
			shares[i] = share{name: fmt.Sprintf("c%02d", i), weight: int64(weights[i]), capacity: -1}
			if i < len(capacities) && capacities[i] != 255 {
				shares[i].capacity = int64(capacities[i])
			}
			if i < len(previous) {
				shares[i].previous = int32(previous[i])
			}
			if shares[i].weight > 0 {
				anyWeight = true
				if shares[i].capacity < 0 {
					unlimited = true
				} else {
					sumCap += shares[i].capacity
				}
			}
		}
		left := divide(int64(total), shares)

		var sum int64
		got := map[string]int64{}
		for _, s := range shares {
			if s.replicas < 0 || (s.capacity >= 0 && s.replicas > s.capacity) || (s.weight == 0 && s.replicas > 0) {
				t.Fatalf("share %+v out of bounds", s)
			}
			sum += s.replicas
			got[s.name] = s.replicas
		}
		if left < 0 || sum+left != int64(total) {
			t.Fatalf("placed %d, left %d, of %d", sum, left, total)
		}
		if anyWeight && (unlimited || sumCap >= int64(total)) && left != 0 {
			t.Fatalf("left %d of %d although the capacities allow all (%+v)", left, total, shares)
		}

		if total <= 2000 {
			ref := sequential(int64(total), shares)
			for i, s := range shares {
				if ref[i] != s.replicas {
					t.Fatalf("%s got %d, the one-at-a-time method gives %d (%+v)", s.name, s.replicas, ref[i], shares)
				}
			}
		}

		reversed := make([]share, n)
		for i := range shares {
			reversed[n-1-i] = shares[i]
		}
		if left2 := divide(int64(total), reversed); left2 != left {
			t.Fatalf("left %d, then %d in reverse order", left, left2)
		}
		for _, s := range reversed {
			if got[s.name] != s.replicas {
				t.Fatalf("%s got %d, then %d in reverse order", s.name, got[s.name], s.replicas)
			}
		}
	})
}

// sequential is the textbook one-replica-at-a-time Webster method with divide's ordering.
func sequential(total int64, shares []share) []int64 {
	cp := append([]share(nil), shares...)
	divide(0, cp) // resets the replicas
	d := divider{shares: cp, rank: make([]int, len(cp))}
	order := make([]int, len(cp))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tieBefore(&cp[order[a]], &cp[order[b]]) })
	for r, i := range order {
		d.rank[i] = r
	}
	for placed := int64(0); placed < total; placed++ {
		i := d.bestNext()
		if i < 0 {
			break
		}
		cp[i].replicas++
	}
	out := make([]int64, len(cp))
	for i, s := range cp {
		out[i] = s.replicas
	}
	return out
}

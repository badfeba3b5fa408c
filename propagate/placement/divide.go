package placement

import (
	"math/big"
	"math/bits"
	"sort"
)

// share is one cluster taking part in a division.
type share struct {
	name     string
	weight   int64 // ≥ 0
	capacity int64 // most replicas it may get; < 0 means unlimited
	previous int32 // replicas it had before, for tie-breaks
	replicas int64 // the result
}

// divide shares total replicas out in proportion to the weights with the Webster/Sainte-Laguë
// method: the replicas go one by one to the share with the largest weight/(2·replicas+1), never
// beyond a share's capacity. Ties go to the larger weight, then to more previous replicas, then to
// the alphabetically smaller name, so the result is deterministic. divide returns the number of
// replicas it could not place (non-zero only when the capacities or weights do not allow total).
//
// Instead of handing out replicas one at a time (slow for large totals), it starts from the lower
// quota floor(total·weight/Σweight), completes it, then swaps replicas until every replica held
// ranks before every replica not held: the unique result of the one-at-a-time method.
func divide(total int64, shares []share) int64 {
	for i := range shares {
		shares[i].replicas = 0
	}
	if total <= 0 || len(shares) == 0 {
		return max(total, 0)
	}
	order := make([]int, len(shares))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tieBefore(&shares[order[a]], &shares[order[b]]) })
	rank := make([]int, len(shares))
	for r, i := range order {
		rank[i] = r
	}
	d := divider{shares: shares, rank: rank}
	placed := d.lowerQuota(total)
	for placed < total {
		i := d.bestNext()
		if i < 0 {
			break
		}
		shares[i].replicas++
		placed++
	}
	for {
		in, out := d.bestNext(), d.worstHeld()
		if in < 0 || out < 0 || in == out || !d.before(in, shares[in].replicas+1, out, shares[out].replicas) {
			break
		}
		shares[in].replicas++
		shares[out].replicas--
	}
	return total - placed
}

// tieBefore orders shares whose next replicas rank equal: larger weight, then more previous
// replicas, then the smaller name.
func tieBefore(x, y *share) bool {
	if x.weight != y.weight {
		return x.weight > y.weight
	}
	if x.previous != y.previous {
		return x.previous > y.previous
	}
	return x.name < y.name
}

type divider struct {
	shares []share
	rank   []int
}

// lowerQuota gives every share its lower quota floor(rest·weight/Σweight), where shares whose
// quota reaches their capacity are filled to it and the rest is shared again among the others
// (at most one round per share). It returns the sum placed, which is short of total by less
// than the number of shares unless the capacities are too small.
func (d *divider) lowerQuota(total int64) int64 {
	open := map[int]bool{}
	for i, s := range d.shares {
		if s.weight > 0 && s.capacity != 0 {
			open[i] = true
		}
	}
	var fixed int64
	q := new(big.Int)
	for len(open) > 0 {
		rest := total - fixed
		sum := new(big.Int)
		for i := range open {
			sum.Add(sum, big.NewInt(d.shares[i].weight))
		}
		full := false
		for i := range open {
			s := &d.shares[i]
			q.Mul(big.NewInt(rest), big.NewInt(s.weight))
			s.replicas = q.Quo(q, sum).Int64()
			if s.capacity >= 0 && s.replicas >= s.capacity {
				s.replicas = s.capacity
				fixed += s.capacity
				delete(open, i)
				full = true
			}
		}
		if !full {
			break
		}
		for i := range open {
			d.shares[i].replicas = 0
		}
	}
	var placed int64
	for _, s := range d.shares {
		placed += s.replicas
	}
	return placed
}

// bestNext is the share whose next replica ranks first, -1 when every share is full or
// weightless.
func (d *divider) bestNext() int {
	best := -1
	for i, s := range d.shares {
		if s.weight == 0 || (s.capacity >= 0 && s.replicas >= s.capacity) {
			continue
		}
		if best < 0 || d.before(i, s.replicas+1, best, d.shares[best].replicas+1) {
			best = i
		}
	}
	return best
}

// worstHeld is the share whose last replica ranks last, -1 when no share holds a replica.
func (d *divider) worstHeld() int {
	worst := -1
	for i, s := range d.shares {
		if s.replicas == 0 {
			continue
		}
		if worst < 0 || d.before(worst, d.shares[worst].replicas, i, s.replicas) {
			worst = i
		}
	}
	return worst
}

// before says whether the k-th replica of share i ranks before the l-th replica of share j:
// larger weight/(2k−1) first, ties by rank.
func (d *divider) before(i int, k int64, j int, l int64) bool {
	if i == j {
		return k < l
	}
	// weight_i/(2k−1) vs weight_j/(2l−1), compared as weight_i·(2l−1) vs weight_j·(2k−1) in 128 bits.
	hi1, lo1 := bits.Mul64(uint64(d.shares[i].weight), uint64(2*l-1))
	hi2, lo2 := bits.Mul64(uint64(d.shares[j].weight), uint64(2*k-1))
	if hi1 != hi2 {
		return hi1 > hi2
	}
	if lo1 != lo2 {
		return lo1 > lo2
	}
	return d.rank[i] < d.rank[j]
}

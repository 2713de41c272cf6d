package sim

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// spreadTimes draws n event times in [from, to), oldest first, at the given
// resolution (time.Second, time.Millisecond), following the diurnal and
// weekly shape of the NordPass history when the span covers a day or more.
// bursts runs of 2–30 events share one instant, as activity logs do when a
// script or a sync acts on many records at once. Times are Unix
// nanoseconds.
func spreadTimes(rnd *rand.Rand, n int, from, to time.Time, unit time.Duration, bursts int) []int64 {
	if n <= 0 {
		return nil
	}
	u := int64(unit)
	lo := (from.UnixNano() + u - 1) / u
	hi := (to.UnixNano() + u - 1) / u // exclusive, in units
	if hi <= lo {
		panic("sim: no instant of the requested resolution in [From, To)")
	}
	perDay := int64(24*time.Hour) / u
	shaped := hi-lo >= perDay
	times := make([]int64, n)
	for i := 0; i < n; {
		t := lo + rnd.Int64N(hi-lo)
		if shaped {
			sec := t * u / int64(time.Second)
			if rnd.Float64() >= hourWeight[(sec/3600)%24]*dayWeight[(sec/day+4)%7] {
				continue
			}
		}
		times[i] = t
		i++
	}
	slices.Sort(times)
	for range bursts {
		size := min(2+rnd.IntN(29), n)
		i := rnd.IntN(n - size + 1)
		for j := i + 1; j < i+size; j++ {
			times[j] = times[i]
		}
	}
	for i := range times {
		times[i] *= u
	}
	return times
}

// pickWeighted returns an index drawn with the given cumulative weights.
func pickWeighted(rnd *rand.Rand, cum []int) int {
	i, _ := slices.BinarySearch(cum, rnd.IntN(cum[len(cum)-1])+1)
	return i
}

// personName returns the i-th generated person's "first.last" name.
func personName(i int) (first, last string) {
	return firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
}

// ipv4 draws an address from the documentation ranges (RFC 5737).
func ipv4(rnd *rand.Rand) string {
	nets := [...]string{"192.0.2.", "198.51.100.", "203.0.113."}
	return nets[rnd.IntN(len(nets))] + strconv.Itoa(1+rnd.IntN(254))
}

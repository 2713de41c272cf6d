package nordpass

import (
	"bytes"
	"fmt"
	"testing"
)

func samplePage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"item","action":"item_shared","timestamp":%d,"organization_uuid":"33b01ac7-5a3c-4a2e-a394-a5f15237c292","user":{"uuid":"4a6a4fb5-f635-4200-830f-2060afec3a89","email":"carla.adams@example.com"},"initiator":{"uuid":"107ccf3b-15da-4a92-925e-df814f185ca9","email":"anna.adams@example.com"},"metadata":{"item_type":"password","shared_with":"group"}}`, 1700000000+i)
	}
	fmt.Fprintf(&b, `],"metadata":{"total":%d,"per_page":100,"current_page":1,"total_pages":1}}`, n)
	return b.Bytes()
}

func BenchmarkDecodePage(b *testing.B) {
	page := samplePage(100)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodePage(page); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
}

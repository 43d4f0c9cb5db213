package w3cbaggage

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIdentity(t *testing.T) {
	require.True(t, identityOK, "baggage.Baggage changed shape: the caches keyed on it are off")
	a, err := baggage.Parse("k=v")
	require.NoError(t, err)
	assert.Equal(t, Identity(a), Identity(a))
	b, err := baggage.Parse("k=v")
	require.NoError(t, err)
	assert.NotEqual(t, Identity(a), Identity(b))
	m, err := baggage.NewMemberRaw("k2", "v2")
	require.NoError(t, err)
	c, err := a.SetMember(m)
	require.NoError(t, err)
	assert.NotEqual(t, Identity(a), Identity(c), "a change makes a new map")
	assert.Nil(t, Identity(baggage.Baggage{}))
}

// TestValueSize checks ValueSize against OpenTelemetry's own encoder for
// every byte.
func TestValueSize(t *testing.T) {
	for c := range 256 {
		v := "a" + string([]byte{byte(c)}) + "b"
		m, err := baggage.NewMemberRaw("k", v)
		if err != nil {
			continue // not valid UTF-8 alone
		}
		assert.Equal(t, len(m.String()), len("k=")+ValueSize(v), "%q", v)
	}
	assert.Equal(t, len("%E2%82%AC"), ValueSize("€"))
}

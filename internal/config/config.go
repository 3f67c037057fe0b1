// Package config loads hexnet's plain configuration structs in layers:
// defaults (the struct as given), then a TOML file, then environment
// variables with a prefix (HEXNET_), then command-line flags, and prints a
// struct as annotated TOML.
//
// Field names come from `toml:"name"` tags; a `help:"..."` tag documents the
// field. Nested structs become TOML tables, dotted flag names
// (-broker.addr) and underscored environment names (HEXNET_BROKER_ADDR).
// Supported leaf types: string, bool, ints, uints, floats, time.Duration and
// []string (comma-separated in env and flags).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Validator is implemented by config structs that can check themselves.
type Validator interface {
	Validate() error
}

// Loader applies the file, environment and flag layers to one config struct.
type Loader struct {
	dst       any
	envPrefix string
	flags     map[string]string // flag path -> raw value, in the order seen
	order     []string
}

// ErrUnknownKey is returned when a config file names a key the struct lacks.
var ErrUnknownKey = errors.New("config: unknown key")

// NewLoader prepares to load into dst (a pointer to a struct holding defaults).
func NewLoader(dst any, envPrefix string) *Loader {
	return &Loader{dst: dst, envPrefix: envPrefix, flags: map[string]string{}}
}

// BindFlags registers one flag per leaf field on fs (dotted path, help text,
// default shown from dst). Values are recorded and applied last by Load.
func (l *Loader) BindFlags(fs *flag.FlagSet) {
	walk(reflect.ValueOf(l.dst).Elem(), nil, func(path []string, f reflect.StructField, v reflect.Value) {
		name := strings.Join(path, ".")
		def := formatValue(v)
		fs.Func(name, fmt.Sprintf("%s (default %s)", f.Tag.Get("help"), def), func(s string) error {
			if err := setValue(v.Type(), reflect.New(v.Type()).Elem(), s); err != nil {
				return err
			}
			if _, seen := l.flags[name]; !seen {
				l.order = append(l.order, name)
			}
			l.flags[name] = s
			return nil
		})
	})
}

// Load applies, in order, the TOML file (when file is not empty), the
// environment, and the flags recorded by BindFlags, then validates dst when
// it implements Validator.
func (l *Loader) Load(file string) error {
	if file != "" {
		md, err := toml.DecodeFile(file, l.dst)
		if err != nil {
			return fmt.Errorf("config: read %s: %w", file, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return fmt.Errorf("%w in %s: %s", ErrUnknownKey, file, strings.Join(keys, ", "))
		}
	}
	var errs []error
	walk(reflect.ValueOf(l.dst).Elem(), nil, func(path []string, f reflect.StructField, v reflect.Value) {
		env := l.envPrefix + strings.ToUpper(strings.Join(path, "_"))
		if s, ok := os.LookupEnv(env); ok {
			if err := setValue(v.Type(), v, s); err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", env, err))
			}
		}
	})
	walk(reflect.ValueOf(l.dst).Elem(), nil, func(path []string, f reflect.StructField, v reflect.Value) {
		if s, ok := l.flags[strings.Join(path, ".")]; ok {
			if err := setValue(v.Type(), v, s); err != nil {
				errs = append(errs, fmt.Errorf("config: -%s: %w", strings.Join(path, "."), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if v, ok := l.dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// Print writes cfg as TOML with each field's help text as a comment above it,
// and the environment variable that overrides it.
func Print(w io.Writer, cfg any, envPrefix string) error {
	var b strings.Builder
	printStruct(&b, reflect.ValueOf(cfg).Elem(), nil, envPrefix)
	_, err := io.WriteString(w, b.String())
	return err
}

func printStruct(b *strings.Builder, v reflect.Value, path []string, envPrefix string) {
	t := v.Type()
	var tables []int
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tomlName(f)
		if name == "" {
			continue
		}
		if isTable(f.Type) {
			tables = append(tables, i)
			continue
		}
		p := append(append([]string(nil), path...), name)
		if h := f.Tag.Get("help"); h != "" {
			fmt.Fprintf(b, "# %s\n", h)
		}
		fmt.Fprintf(b, "# env: %s%s\n", envPrefix, strings.ToUpper(strings.Join(p, "_")))
		fmt.Fprintf(b, "%s = %s\n\n", name, tomlLiteral(v.Field(i)))
	}
	for _, i := range tables {
		f := t.Field(i)
		p := append(append([]string(nil), path...), tomlName(f))
		fmt.Fprintf(b, "[%s]\n", strings.Join(p, "."))
		if h := f.Tag.Get("help"); h != "" {
			fmt.Fprintf(b, "# %s\n", h)
		}
		printStruct(b, v.Field(i), p, envPrefix)
	}
}

func tomlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("toml")
	if tag == "-" {
		return ""
	}
	if n, _, _ := strings.Cut(tag, ","); n != "" {
		return n
	}
	return strings.ToLower(f.Name)
}

var durationType = reflect.TypeOf(time.Duration(0))

func isTable(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != durationType }

func walk(v reflect.Value, path []string, fn func([]string, reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tomlName(f)
		if name == "" {
			continue
		}
		p := append(append([]string(nil), path...), name)
		if isTable(f.Type) {
			walk(v.Field(i), p, fn)
			continue
		}
		if !supported(f.Type) {
			continue
		}
		fn(p, f, v.Field(i))
	}
}

func supported(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

func setValue(t reflect.Type, v reflect.Value, s string) error {
	if t == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 0, t.Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 0, t.Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", t)
	}
	return nil
}

func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = v.Index(i).String()
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

func tomlLiteral(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return strconv.Quote(time.Duration(v.Int()).String())
	case v.Kind() == reflect.String:
		return strconv.Quote(v.String())
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = strconv.Quote(v.Index(i).String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}

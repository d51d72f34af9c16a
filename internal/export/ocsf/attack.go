package ocsf

import "strings"

// attackVersion is the ATT&CK Enterprise release the names below come from.
const attackVersion = "v15"

// tacticNames names every ATT&CK Enterprise tactic.
var tacticNames = map[string]string{
	"TA0043": "Reconnaissance",
	"TA0042": "Resource Development",
	"TA0001": "Initial Access",
	"TA0002": "Execution",
	"TA0003": "Persistence",
	"TA0004": "Privilege Escalation",
	"TA0005": "Defense Evasion",
	"TA0006": "Credential Access",
	"TA0007": "Discovery",
	"TA0008": "Lateral Movement",
	"TA0009": "Collection",
	"TA0011": "Command and Control",
	"TA0010": "Exfiltration",
	"TA0040": "Impact",
}

// technique is one ATT&CK technique or sub-technique: its name and, for a
// top-level technique, the tactics it belongs to (a sub-technique inherits
// its parent's).
type technique struct {
	name    string
	tactics []string
}

// techniques names the techniques Vigil's rules and analyzers emit
// (rules/*.yaml; TestTechniquesCoverRules keeps the two in step) and a few
// the planned analyzers will (valid accounts, data encrypted for impact).
var techniques = map[string]technique{
	"T1003":     {"OS Credential Dumping", []string{"TA0006"}},
	"T1003.008": {"/etc/passwd and /etc/shadow", nil},
	"T1014":     {"Rootkit", []string{"TA0005"}},
	"T1021":     {"Remote Services", []string{"TA0008"}},
	"T1021.004": {"SSH", nil},
	"T1027":     {"Obfuscated Files or Information", []string{"TA0005"}},
	"T1027.011": {"Fileless Storage", nil},
	"T1036":     {"Masquerading", []string{"TA0005"}},
	"T1036.005": {"Match Legitimate Name or Location", nil},
	"T1037":     {"Boot or Logon Initialization Scripts", []string{"TA0003", "TA0004"}},
	"T1037.004": {"RC Scripts", nil},
	"T1046":     {"Network Service Discovery", []string{"TA0007"}},
	"T1053":     {"Scheduled Task/Job", []string{"TA0002", "TA0003", "TA0004"}},
	"T1053.003": {"Cron", nil},
	"T1055":     {"Process Injection", []string{"TA0005", "TA0004"}},
	"T1055.008": {"Ptrace System Calls", nil},
	"T1059":     {"Command and Scripting Interpreter", []string{"TA0002"}},
	"T1059.004": {"Unix Shell", nil},
	"T1059.006": {"Python", nil},
	"T1070":     {"Indicator Removal", []string{"TA0005"}},
	"T1070.002": {"Clear Linux or Mac System Logs", nil},
	"T1070.003": {"Clear Command History", nil},
	"T1070.004": {"File Deletion", nil},
	"T1071":     {"Application Layer Protocol", []string{"TA0011"}},
	"T1078":     {"Valid Accounts", []string{"TA0001", "TA0003", "TA0004", "TA0005"}},
	"T1078.003": {"Local Accounts", nil},
	"T1098":     {"Account Manipulation", []string{"TA0003", "TA0004"}},
	"T1098.004": {"SSH Authorized Keys", nil},
	"T1105":     {"Ingress Tool Transfer", []string{"TA0011"}},
	"T1110":     {"Brute Force", []string{"TA0006"}},
	"T1110.001": {"Password Guessing", nil},
	"T1110.003": {"Password Spraying", nil},
	"T1110.004": {"Credential Stuffing", nil},
	"T1136":     {"Create Account", []string{"TA0003"}},
	"T1136.001": {"Local Account", nil},
	"T1140":     {"Deobfuscate/Decode Files or Information", []string{"TA0005"}},
	"T1190":     {"Exploit Public-Facing Application", []string{"TA0001"}},
	"T1204":     {"User Execution", []string{"TA0002"}},
	"T1204.002": {"Malicious File", nil},
	"T1210":     {"Exploitation of Remote Services", []string{"TA0008"}},
	"T1222":     {"File and Directory Permissions Modification", []string{"TA0005"}},
	"T1222.002": {"Linux and Mac File and Directory Permissions Modification", nil},
	"T1486":     {"Data Encrypted for Impact", []string{"TA0040"}},
	"T1490":     {"Inhibit System Recovery", []string{"TA0040"}},
	"T1496":     {"Resource Hijacking", []string{"TA0040"}},
	"T1505":     {"Server Software Component", []string{"TA0003"}},
	"T1505.003": {"Web Shell", nil},
	"T1543":     {"Create or Modify System Process", []string{"TA0003", "TA0004"}},
	"T1543.002": {"Systemd Service", nil},
	"T1546":     {"Event Triggered Execution", []string{"TA0003", "TA0004"}},
	"T1546.004": {"Unix Shell Configuration Modification", nil},
	"T1547":     {"Boot or Logon Autostart Execution", []string{"TA0003", "TA0004"}},
	"T1547.006": {"Kernel Modules and Extensions", nil},
	"T1548":     {"Abuse Elevation Control Mechanism", []string{"TA0004", "TA0005"}},
	"T1548.003": {"Sudo and Sudo Caching", nil},
	"T1554":     {"Compromise Host Software Binary", []string{"TA0003"}},
	"T1564":     {"Hide Artifacts", []string{"TA0005"}},
	"T1564.001": {"Hidden Files and Directories", nil},
	"T1570":     {"Lateral Tool Transfer", []string{"TA0008"}},
	"T1574":     {"Hijack Execution Flow", []string{"TA0003", "TA0004", "TA0005"}},
	"T1574.006": {"Dynamic Linker Hijacking", nil},
	"T1609":     {"Container Administration Command", []string{"TA0002"}},
	"T1610":     {"Deploy Container", []string{"TA0005", "TA0002"}},
	"T1611":     {"Escape to Host", []string{"TA0004"}},
	"T1620":     {"Reflective Code Loading", []string{"TA0005"}},
}

// TacticName returns the ATT&CK name of a tactic ID, "" when unknown.
func TacticName(id string) string { return tacticNames[id] }

// TechniqueName returns the ATT&CK name of a technique or sub-technique
// ID, "" when unknown.
func TechniqueName(id string) string { return techniques[id].name }

// attacks pairs an alert's techniques with its tactics. Each technique
// becomes one entry, with the sub-technique split out, paired with the
// first of the alert's tactics the technique belongs to; a tactic no
// technique claimed gets an entry of its own, so no ID is lost. IDs not in
// the tables keep their uid with an empty name.
func attacks(tactics, techs []string) []Attack {
	out := make([]Attack, 0, len(techs)+len(tactics))
	used := make(map[string]bool)
	for _, id := range techs {
		a := Attack{Version: attackVersion}
		parent := id
		if i := strings.IndexByte(id, '.'); i > 0 {
			parent = id[:i]
			a.SubTechnique = &Ref{UID: id, Name: TechniqueName(id)}
		}
		a.Technique = &Ref{UID: parent, Name: TechniqueName(parent)}
		for _, ta := range tactics {
			if belongs(parent, ta) {
				a.Tactic = &Ref{UID: ta, Name: TacticName(ta)}
				used[ta] = true
				break
			}
		}
		out = append(out, a)
	}
	for _, ta := range tactics {
		if used[ta] {
			continue
		}
		used[ta] = true
		out = append(out, Attack{Version: attackVersion, Tactic: &Ref{UID: ta, Name: TacticName(ta)}})
	}
	return out
}

func belongs(tech, tactic string) bool {
	for _, t := range techniques[tech].tactics {
		if t == tactic {
			return true
		}
	}
	return false
}

